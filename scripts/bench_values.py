"""What comparing the asked value across articles (qa.answer.values) costs, in one process.

Asks each question twice in the same process, in alternating order, once with the value
comparison and once without it (corroboration otherwise unchanged), and prints the p50 / p95
of ``corroborate_ms`` and ``total_ms`` for both and the ratios with over without.  The
questions are the corroboration dev set's (``evals/news_corroboration.jsonl``), all kinds but
timelines, over the news index that ``evals/corroboration.py`` builds.

Usage: python scripts/bench_values.py [--index-dir index/eval-realtimeqa_news] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main() -> int:
    import qa.answer.corroborate as corroborate
    from qa.config import Settings
    from qa.pipeline import Pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index" / "eval-realtimeqa_news")
    parser.add_argument("--file", type=Path, default=ROOT / "evals" / "news_corroboration.jsonl")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    if not args.index_dir.is_dir():
        print(f"index {args.index_dir} not found (run evals/corroboration.py first)", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in args.file.open(encoding="utf-8") if line.strip()]
    questions = [r["question"] for r in records if r["kind"] != "timeline"]
    questions = questions[: args.limit] if args.limit else questions
    pipeline = Pipeline(Settings(index_dir=args.index_dir, corroborate=True))
    with_values = corroborate.asked_measure

    def without(*_: object) -> None:
        return None

    pipeline.ask(questions[0])  # load the models before timing
    times: dict[str, dict[str, list[float]]] = {
        label: {"corroborate_ms": [], "total_ms": []} for label in ("with", "without")
    }
    for i, question in enumerate(questions):
        order = [("with", with_values), ("without", without)]
        for label, measure in order if i % 2 == 0 else order[::-1]:
            corroborate.asked_measure = measure  # type: ignore[assignment]
            answer = pipeline.ask(question)
            for key in ("corroborate_ms", "total_ms"):
                times[label][key].append(answer.timings_ms.get(key, 0.0))
        print(f"{i + 1}/{len(questions)}", file=sys.stderr, end="\r")
    corroborate.asked_measure = with_values
    out: dict[str, object] = {"questions": len(questions)}
    for label, series in times.items():
        for key, values in series.items():
            out[f"{label}_{key}_p50"] = round(statistics.median(values), 1)
            out[f"{label}_{key}_p95"] = _p(values, 0.95)
    for key in ("corroborate_ms", "total_ms"):
        out[f"{key}_p50_ratio"] = round(
            float(out[f"with_{key}_p50"]) / max(float(out[f"without_{key}_p50"]), 1e-9), 3
        )
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
