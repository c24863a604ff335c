"""Choose QA_ANSWER_MIN_SUPPORT: sweep the verifier's threshold over labelled claims about the seed.

Usage: python evals/verifier_threshold.py [evals/verifier_claims.jsonl]

Each claim is checked, as an LLM's answer sentence would be, against the seed
article's passages (no marker: the verifier searches all of them).  Prints, for
each threshold, how many supported claims are kept and unsupported ones dropped,
and writes evals/out/verifier/threshold.png.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

from qa.config import Settings
from qa.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def main(path: str = str(ROOT / "evals" / "verifier_claims.jsonl")) -> int:
    claims = [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]
    pipeline = Pipeline(Settings(index_dir=Path(tempfile.mkdtemp()) / "index"))
    pipeline.ingest([ROOT / "seeds"])
    passages = pipeline.search("Kremlin Putin Zelensky ceasefire Sumy talks", 20)
    scored = []
    for c in claims:
        checked = pipeline.verifier.verify(c["claim"], passages).sentences
        support = checked[0].support if checked else 0.0
        scored.append((support, bool(c["supported"])))
    thresholds = [round(0.30 + 0.025 * i, 3) for i in range(17)]
    rows = []
    print("threshold  kept_true  dropped_false  accuracy")
    for t in thresholds:
        kept_true = sum(1 for s, ok in scored if ok and s >= t) / max(1, sum(ok for _, ok in scored))
        dropped_false = sum(1 for s, ok in scored if not ok and s < t) / max(
            1, sum(not ok for _, ok in scored)
        )
        accuracy = sum(1 for s, ok in scored if (s >= t) == ok) / len(scored)
        rows.append((t, kept_true, dropped_false, accuracy))
        print(f"{t:9.3f}  {kept_true:9.2f}  {dropped_false:13.2f}  {accuracy:8.2f}")
    for (s, ok), c in sorted(zip(scored, claims, strict=True), key=lambda x: -x[0][0]):
        print(f"{s:.3f} {'T' if ok else 'F'} {c['claim']}")
    out = ROOT / "evals" / "out" / "verifier"
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    ax.plot([r[0] for r in rows], [r[1] for r in rows], label="supported claims kept")
    ax.plot([r[0] for r in rows], [r[2] for r in rows], label="unsupported claims dropped")
    ax.plot([r[0] for r in rows], [r[3] for r in rows], label="accuracy", linestyle="--")
    ax.set_xlabel("QA_ANSWER_MIN_SUPPORT")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "threshold.png", dpi=110)
    print(f"plot: {out / 'threshold.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
