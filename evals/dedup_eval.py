"""Near-duplicate detection on evals/news_duplicates.json: every corpus article signed, every pair compared.

Prints precision and recall over the listed ``pairs`` (should be copies), the
listed ``not_duplicates`` (should not be) and how many other pairs in the
corpus are called copies (to read by hand).  Usage:
``python evals/dedup_eval.py [--corpus ../shared/datasets/realtimeqa_news/corpus.jsonl]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.ingest.dedup import Signature  # noqa: E402

DEFAULT_CORPUS = ROOT / ".." / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"


def evaluate(corpus: Path, pairs_file: Path) -> dict[str, object]:
    """Signs every article, compares every pair; returns the figures and the pairs found."""
    docs = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()]
    sigs = {d["id"]: Signature.of(d["text"]) for d in docs}
    ids = sorted(sigs)
    found = {(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if sigs[a].copies(sigs[b])}
    spec = json.loads(pairs_file.read_text(encoding="utf-8"))
    want = {tuple(sorted(p[:2])) for p in spec["pairs"]}
    negatives = {tuple(sorted(p[:2])) for p in spec.get("not_duplicates", [])}
    hits = want & found
    false_listed = negatives & found
    unlisted = sorted(found - want - negatives)
    return {
        "articles": len(docs),
        "pairs_listed": len(want),
        "pairs_found": len(hits),
        "recall": len(hits) / len(want) if want else 1.0,
        "not_duplicates_listed": len(negatives),
        "not_duplicates_called_copies": len(false_listed),
        # Precision over the labelled pairs (listed copies + listed non-copies).
        "precision_labelled": len(hits) / (len(hits) + len(false_listed)) if hits or false_listed else 1.0,
        "other_pairs_called_copies": len(unlisted),
        "missed": sorted(want - found),
        "unlisted": unlisted,
        "scores": {
            f"{a} {b}": (round(sigs[a].jaccard(sigs[b]), 3), round(sigs[a].containment(sigs[b]), 3))
            for a, b in sorted(want | negatives)
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pairs", type=Path, default=ROOT / "evals" / "news_duplicates.json")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus {args.corpus} not found", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(args.corpus, args.pairs), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
