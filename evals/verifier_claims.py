"""Score the verifier on labelled claims and choose QA_ANSWER_MIN_SUPPORT.

Usage: python evals/verifier_claims.py [--claims evals/verifier_claims.jsonl] [--corpus PATH]

Each row of the claims file is ``{claim, supported, kind, doc_id, evidence}``.  The
claim is checked, as an LLM's answer sentence citing ``[1]`` would be, against its
article as passage 1 (the seed article, or an article of the news corpus read
from ``../shared``).  The verifier runs with every check on and the support
threshold at 0, and records the support of the evidence it chose; a sweep over
thresholds then prints, per kind, how many supported claims are kept and
unsupported ones dropped, and writes ``evals/out/verifier/claims.json`` and
``threshold.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from matplotlib.figure import Figure

from qa.config import Settings
from qa.pipeline import Pipeline
from qa.types import Passage

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"


def load_articles(corpus: Path) -> dict[str, tuple[str, str]]:
    """doc id -> (title, text) for the seed articles and, if present, the news corpus."""
    out: dict[str, tuple[str, str]] = {}
    for meta in (ROOT / "seeds").glob("*.meta.json"):
        info = json.loads(meta.read_text("utf-8"))
        text = meta.with_name(meta.name.replace(".meta.json", ".txt")).read_text("utf-8")
        out[info["id"]] = (info.get("title", ""), text)
    if corpus.exists():
        for line in corpus.read_text("utf-8").splitlines():
            row = json.loads(line)
            out[row["id"]] = (row.get("title", ""), row["text"])
    return out


def run(
    claims: list[dict], articles: dict[str, tuple[str, str]], substitution: float | None = None
) -> list[dict]:
    """Verify every claim at threshold 0; record whether the checks passed and the support."""
    pipeline = Pipeline(Settings(index_dir=Path(tempfile.mkdtemp()) / "index", answer_min_support=0.0))
    if substitution is not None:
        pipeline.verifier.substitution_min = substitution
    rows = []
    for c in claims:
        if c["doc_id"] not in articles:
            print(f"skipped (article {c['doc_id']} not found): {c['claim']}", file=sys.stderr)
            continue
        title, text = articles[c["doc_id"]]
        passage = Passage(0, c["doc_id"], title, "", None, 0, len(text), text, 1.0)
        start = time.perf_counter()
        verified = pipeline.verifier.verify(f"{c['claim']} [1]", [passage])
        ms = (time.perf_counter() - start) * 1000
        sentence = verified.sentences[0] if verified.sentences else None
        rows.append(
            {
                **c,
                "checks_pass": bool(sentence and sentence.supported),
                "support": sentence.support if sentence else 0.0,
                "label": sentence.label if sentence else "not_stated",
                "why": sentence.judgement.reasons if sentence and sentence.judgement else [],
                "chosen": sentence.evidence.text if sentence and sentence.evidence else "",
                "ms": round(ms, 1),
            }
        )
    return rows


def table(rows: list[dict], threshold: float) -> tuple[float, float, str]:
    """Share of supported kept and unsupported dropped at ``threshold``, and a per-kind table."""
    counts: Counter[tuple[bool, str, bool]] = Counter()
    for r in rows:
        kept = r["checks_pass"] and r["support"] >= threshold
        counts[(r["supported"], r["kind"], kept)] += 1
    lines = [f"{'kind':<14} {'supported':>9} {'kept':>5} {'dropped':>8}"]
    for supported in (True, False):
        for kind in sorted({k for s, k, _ in counts if s == supported}):
            kept, dropped = counts[(supported, kind, True)], counts[(supported, kind, False)]
            lines.append(f"{kind:<14} {supported!s:>9} {kept:>5} {dropped:>8}")
    true_total = sum(v for (s, _, _), v in counts.items() if s)
    false_total = sum(v for (s, _, _), v in counts.items() if not s)
    kept_true = sum(v for (s, _, k), v in counts.items() if s and k) / max(1, true_total)
    dropped_false = sum(v for (s, _, k), v in counts.items() if not s and not k) / max(1, false_total)
    return kept_true, dropped_false, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", default=str(ROOT / "evals" / "verifier_claims.jsonl"))
    parser.add_argument("--corpus", default=str(NEWS), help="the news corpus.jsonl (read, never copied)")
    parser.add_argument("--threshold", type=float, default=Settings().answer_min_support)
    parser.add_argument("--out", default=str(ROOT / "evals" / "out" / "verifier"))
    parser.add_argument(
        "--substitution",
        type=float,
        help="the predicate check's substitution threshold (default: the verifier's)",
    )
    args = parser.parse_args(argv)
    claims = [json.loads(line) for line in Path(args.claims).read_text("utf-8").splitlines() if line.strip()]
    rows = run(claims, load_articles(Path(args.corpus)), args.substitution)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "claims.json").write_text(json.dumps(rows, indent=1) + "\n")
    thresholds = [round(0.30 + 0.025 * i, 3) for i in range(17)]
    sweep = [(t, *table(rows, t)[:2]) for t in thresholds]
    print("threshold  kept_supported  dropped_unsupported")
    for t, kept, dropped in sweep:
        print(f"{t:9.3f}  {kept:14.3f}  {dropped:19.3f}")
    kept, dropped, text = table(rows, args.threshold)
    print(
        f"\nat QA_ANSWER_MIN_SUPPORT={args.threshold}: supported kept {kept:.3f}, unsupported dropped {dropped:.3f}"
    )
    print(text)
    ms = sorted(r["ms"] for r in rows)
    print(f"verify p50 {ms[len(ms) // 2]:.0f} ms per claim (whole article as the passage)")
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot([t for t, _, _ in sweep], [k for _, k, _ in sweep], label="supported kept")
    ax.plot([t for t, _, _ in sweep], [d for _, _, d in sweep], label="unsupported dropped")
    ax.axvline(args.threshold, color="grey", linestyle=":")
    ax.set_xlabel("QA_ANSWER_MIN_SUPPORT")
    ax.set_ylim(0, 1.02)
    ax.legend()
    fig.savefig(out / "threshold.png", dpi=100, bbox_inches="tight")
    print(f"wrote {out / 'claims.json'} and {out / 'threshold.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
