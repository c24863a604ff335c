"""Corroboration eval: ask the dev set's questions over the news corpus and score the answers' ``sources``.

Reads ``evals/news_corroboration.jsonl`` (see ``evals/check_corroboration.py``)
and indexes the news corpus into ``index/eval-realtimeqa_news`` (the index ``qa
eval`` builds for the same corpus; unchanged articles are skipped, so a built
index starts in seconds).  Then, with the current ``QA_*`` settings:

``corroboration`` records
    *recall*: the record's supporting articles found (the cited article or one
    in ``supported_by``) over those listed; *retrieved recall*: the same over the
    listed articles that were among the passages read at all; *precision*: the
    found articles that are listed as supporting over all found.  Only blocks
    whose cited article states the fact (is listed) are scored; ``--all-blocks``
    scores every block.
``update`` / ``differ`` records
    *contradiction precision*: ``contradicted_by`` articles that are listed with
    a value other than the cited article's, over all ``contradicted_by``;
    *shows both*: records whose answer cites one listed article and names another
    listed article with a different value as contradicting.
and contradictions claimed on corroboration records (where none should be).

Usage: ``.venv/bin/python evals/corroboration.py [--limit N] [--out evals/out/corroboration.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.types import Answer  # noqa: E402

CORPUS = ROOT / ".." / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def score_corroboration(
    record: dict[str, Any], answer: Answer, read: set[str], all_blocks: bool
) -> dict[str, Any]:
    listed = {s["doc_id"] for s in record["supporting"]}
    found: set[str] = set()
    for block in answer.sources:
        cited = next(c.doc_id for c in answer.citations if c.n == block.citation)
        if all_blocks or cited in listed:
            found |= {cited, *(r.doc_id for r in block.supported_by)}
    return {
        "id": record["id"],
        "answered": answer.answered,
        "listed": sorted(listed),
        "found": sorted(found),
        "hits": len(found & listed),
        "retrieved_listed": len(read & listed),
        "false_contradictions": sum(len(b.contradicted_by) for b in answer.sources),
    }


def score_differ(record: dict[str, Any], answer: Answer) -> dict[str, Any]:
    values = {v["doc_id"]: v["value"] for v in record["values"]}
    contradicted: list[tuple[str, str]] = []  # (cited, contradicting)
    for block in answer.sources:
        cited = next(c.doc_id for c in answer.citations if c.n == block.citation)
        contradicted += [(cited, r.doc_id) for r in block.contradicted_by]
    right = [
        (a, b)
        for a, b in contradicted
        if a in values and b in values and values[a].strip() != values[b].strip()
    ]
    return {
        "id": record["id"],
        "kind": record["kind"],
        "answered": answer.answered,
        "cites_listed": any(c.doc_id in values for c in answer.citations),
        "contradicted": contradicted,
        "right": len(right),
        "shows_both": bool(right),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--file", type=Path, default=ROOT / "evals" / "news_corroboration.jsonl")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index" / "eval-realtimeqa_news")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--all-blocks", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "out" / "corroboration.json")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus {args.corpus} not found", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in args.file.open(encoding="utf-8") if line.strip()]
    pipeline = Pipeline(Settings(index_dir=args.index_dir, corroborate=True))
    pipeline.ingest([args.corpus])
    corr = [r for r in records if r["kind"] == "corroboration"]
    differ = [r for r in records if r["kind"] in {"update", "differ"}]
    if args.limit:
        corr, differ = corr[: args.limit], differ[: args.limit]
    rows: list[dict[str, Any]] = []
    times: list[float] = []
    for record in corr:
        answer = pipeline.ask(record["question"])
        times.append(answer.timings_ms.get("corroborate_ms", 0.0))
        wide = max(pipeline.settings.top_k, pipeline.settings.corroborate_passages)
        read = {p.doc_id for p in pipeline.search(record["question"], wide)}
        rows.append(score_corroboration(record, answer, read, args.all_blocks))
        print(json.dumps(rows[-1]), file=sys.stderr)
    drows: list[dict[str, Any]] = []
    for record in differ:
        answer = pipeline.ask(record["question"])
        times.append(answer.timings_ms.get("corroborate_ms", 0.0))
        drows.append(score_differ(record, answer))
        print(json.dumps(drows[-1]), file=sys.stderr)
    hits = sum(r["hits"] for r in rows)
    found = sum(len(r["found"]) for r in rows)
    listed = sum(len(r["listed"]) for r in rows)
    claimed = sum(len(r["contradicted"]) for r in drows)
    summary = {
        "corroboration_records": len(rows),
        "answered": sum(r["answered"] for r in rows),
        "corroboration_recall": _ratio(hits, listed),
        "corroboration_precision": _ratio(hits, found),
        "retrieved_recall": _ratio(hits, sum(r["retrieved_listed"] for r in rows)),
        "false_contradictions_on_corroboration": sum(r["false_contradictions"] for r in rows),
        "differ_update_records": len(drows),
        "contradictions_claimed": claimed,
        "contradiction_precision": _ratio(sum(r["right"] for r in drows), claimed),
        "shows_both": _ratio(sum(r["shows_both"] for r in drows), len(drows)),
        "corroborate_ms_p50": round(statistics.median(times), 1) if times else None,
        "settings": {
            "corroborate_passages": pipeline.settings.corroborate_passages,
            "corroborate_max_judged": pipeline.settings.corroborate_max_judged,
            "top_k": pipeline.settings.top_k,
            "all_blocks": args.all_blocks,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "corroboration": rows, "differ": drows}, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
