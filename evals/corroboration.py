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
``update`` records (time-aware answers)
    *newest leads*: the answer's first citation is, of the listed articles the
    answer shows (cites, or names as differing / updating / earlier), the newest
    one; over the records whose answer shows two or more listed dates.
    *newest leads (strict)*: the first citation is an article of the record's
    latest date, over all update records answered.
``timeline`` records (asked with ``mode="timeline"``)
    *order accuracy*: of the pairs of timeline events that are listed events from
    different dates, the share in the record's (date) order; *event recall*: the
    listed event articles among the timeline's citations; *duplicates*: events
    whose article is a copy of an earlier event's (should be 0).

Recall is given over all records (an unanswered record finds nothing) and over the
answered ones (``corroboration_recall_answered``: corroboration is a property of an
answer).  Writes ``corroboration.json`` and an HTML page (``corroboration.html``,
linked from ``qa eval``'s report) to ``--out``'s folder; ``--before`` adds an earlier
run's summary to the page for comparison.

Usage: ``.venv/bin/python evals/corroboration.py [--limit N] [--out evals/out/corroboration.json]
[--before OLD.json]``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.evals.corroboration_report import CORROBORATION_HTML, render_page  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.text import MARKER  # noqa: E402
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


def _shown(answer: Answer) -> list[tuple[str, str | None]]:
    """(doc id, date) of every article the answer shows: its citations and the refs of its sources."""
    out = [(c.doc_id, c.published_at) for c in answer.citations]
    for block in answer.sources:
        for ref in (*block.contradicted_by, *block.updates, *block.earlier):
            out.append((ref.doc_id, ref.published_at))
    return out


def leading_doc(answer: Answer) -> str | None:
    """The doc id of the answer's first citation marker (the fact it leads with)."""
    match = MARKER.search(answer.answer)
    by_n = {c.n: c.doc_id for c in answer.citations}
    if match:
        number = int(re.findall(r"\d+", match.group(0))[0])
        return by_n.get(number)
    return answer.citations[0].doc_id if answer.citations else None


def score_differ(record: dict[str, Any], answer: Answer) -> dict[str, Any]:
    values = {v["doc_id"]: v["value"] for v in record["values"]}
    dates = {v["doc_id"]: v["published_at"] for v in record["values"]}
    pairs: list[tuple[str, str]] = []  # (cited, differing)
    for block in answer.sources:
        cited = next(c.doc_id for c in answer.citations if c.n == block.citation)
        pairs += [(cited, r.doc_id) for r in (*block.contradicted_by, *block.updates, *block.earlier)]
    right = [
        (a, b) for a, b in pairs if a in values and b in values and values[a].strip() != values[b].strip()
    ]
    shown = {d for d, _ in _shown(answer) if d in dates}
    lead = leading_doc(answer) if answer.answered else None
    shown_dates = {dates[d] for d in shown}
    latest = max(dates.values())
    return {
        "id": record["id"],
        "kind": record["kind"],
        "answered": answer.answered,
        "cites_listed": any(c.doc_id in values for c in answer.citations),
        "contradicted": sorted(set(pairs)),
        "right": len(set(right)),
        "shows_both": bool(right),
        "lead": lead,
        "lead_date": dates.get(lead or ""),
        "shown_dates": sorted(shown_dates),
        "newest_leads": lead in dates and dates[lead] == max(shown_dates) if len(shown_dates) > 1 else None,
        "newest_leads_strict": lead in dates and dates[lead] == latest,
    }


def score_timeline(record: dict[str, Any], answer: Answer, pipeline: Pipeline) -> dict[str, Any]:
    order = {e["doc_id"]: (e["published_at"], i) for i, e in enumerate(record["events"])}
    by_n = {c.n: c.doc_id for c in answer.citations}
    docs = [by_n.get(e.citation, "") for e in answer.timeline]
    listed = [d for d in docs if d in order]
    pairs = [(a, b) for i, a in enumerate(listed) for b in listed[i + 1 :] if order[a][0] != order[b][0]]
    in_order = sum(order[a][0] < order[b][0] for a, b in pairs)
    groups = pipeline.origins.groups(docs) if docs else []
    return {
        "id": record["id"],
        "events": len(answer.timeline),
        "dates_sorted": [e.date for e in answer.timeline] == sorted(e.date for e in answer.timeline),
        "listed_found": len(set(listed)),
        "listed": len(order),
        "pairs": len(pairs),
        "in_order": in_order,
        "copies": len(docs) - len(groups),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--file", type=Path, default=ROOT / "evals" / "news_corroboration.jsonl")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index" / "eval-realtimeqa_news")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--all-blocks", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "out" / "corroboration.json")
    parser.add_argument("--before", type=Path, help="an earlier run's JSON, shown beside this one")
    parser.add_argument("--kinds", default="corroboration,update,differ,timeline", help="record kinds to run")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus {args.corpus} not found", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in args.file.open(encoding="utf-8") if line.strip()]
    pipeline = Pipeline(Settings(index_dir=args.index_dir, corroborate=True))
    pipeline.ingest([args.corpus])
    kinds = set(args.kinds.split(","))
    corr = [r for r in records if r["kind"] == "corroboration" and r["kind"] in kinds]
    differ = [r for r in records if r["kind"] in {"update", "differ"} & kinds]
    timeline = [r for r in records if r["kind"] == "timeline" and r["kind"] in kinds]
    if args.limit:
        corr, differ, timeline = corr[: args.limit], differ[: args.limit], timeline[: args.limit]
    totals: list[float] = []
    rows: list[dict[str, Any]] = []
    times: list[float] = []
    for record in corr:
        answer = pipeline.ask(record["question"])
        times.append(answer.timings_ms.get("corroborate_ms", 0.0))
        totals.append(answer.timings_ms.get("total_ms", 0.0))
        wide = max(pipeline.settings.top_k, pipeline.settings.corroborate_passages)
        read = {p.doc_id for p in pipeline.search(record["question"], wide)}
        rows.append(score_corroboration(record, answer, read, args.all_blocks))
        print(json.dumps(rows[-1]), file=sys.stderr)
    drows: list[dict[str, Any]] = []
    for record in differ:
        answer = pipeline.ask(record["question"])
        times.append(answer.timings_ms.get("corroborate_ms", 0.0))
        totals.append(answer.timings_ms.get("total_ms", 0.0))
        drows.append(score_differ(record, answer))
        print(json.dumps(drows[-1]), file=sys.stderr)
    trows: list[dict[str, Any]] = []
    for record in timeline:
        answer = pipeline.ask(record["question"], mode="timeline")
        trows.append(score_timeline(record, answer, pipeline))
        print(json.dumps(trows[-1]), file=sys.stderr)
    hits = sum(r["hits"] for r in rows)
    answered = [r for r in rows if r["answered"]]
    updates = [r for r in drows if r["kind"] == "update"]
    judged_lead = [r for r in updates if r["newest_leads"] is not None]
    found = sum(len(r["found"]) for r in rows)
    listed = sum(len(r["listed"]) for r in rows)
    claimed = sum(len(r["contradicted"]) for r in drows)
    summary = {
        "corroboration_records": len(rows),
        "answered": sum(r["answered"] for r in rows),
        "corroboration_recall": _ratio(hits, listed),
        "corroboration_precision": _ratio(hits, found),
        "corroboration_recall_answered": _ratio(
            sum(r["hits"] for r in answered), sum(len(r["listed"]) for r in answered)
        ),
        "retrieved_recall": _ratio(hits, sum(r["retrieved_listed"] for r in rows)),
        "false_contradictions_on_corroboration": sum(r["false_contradictions"] for r in rows),
        "differ_update_records": len(drows),
        "contradictions_claimed": claimed,
        "contradiction_precision": _ratio(sum(r["right"] for r in drows), claimed),
        "shows_both": _ratio(sum(r["shows_both"] for r in drows), len(drows)),
        "newest_leads": _ratio(sum(bool(r["newest_leads"]) for r in judged_lead), len(judged_lead)),
        "newest_leads_records": len(judged_lead),
        "newest_leads_strict": _ratio(
            sum(r["newest_leads_strict"] for r in updates if r["answered"]),
            sum(r["answered"] for r in updates),
        ),
        "timeline_records": len(trows),
        "timeline_answered": sum(r["events"] > 0 for r in trows),
        "timeline_order_accuracy": _ratio(sum(r["in_order"] for r in trows), sum(r["pairs"] for r in trows)),
        "timeline_event_recall": _ratio(
            sum(r["listed_found"] for r in trows), sum(r["listed"] for r in trows)
        ),
        "timeline_dates_sorted": _ratio(sum(r["dates_sorted"] for r in trows), len(trows)),
        "timeline_copies": sum(r["copies"] for r in trows),
        "corroborate_ms_p50": round(statistics.median(times), 1) if times else None,
        "ask_p50_ms": round(statistics.median(totals), 1) if totals else None,
        "settings": {
            "corroborate_passages": pipeline.settings.corroborate_passages,
            "corroborate_max_judged": pipeline.settings.corroborate_max_judged,
            "top_k": pipeline.settings.top_k,
            "all_blocks": args.all_blocks,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"summary": summary, "corroboration": rows, "differ": drows, "timeline": trows}
    if args.before and args.before.is_file():
        data["before"] = json.loads(args.before.read_text("utf-8")).get("summary", {})
    args.out.write_text(json.dumps(data, indent=1))
    page = args.out.with_name(CORROBORATION_HTML)
    page.write_text(render_page(data), encoding="utf-8")
    print(f"report: {page}", file=sys.stderr)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
