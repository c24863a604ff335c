"""Validate the corroboration / time-aware dev set (evals/news_corroboration.jsonl) against the news corpus.

Usage: python evals/check_corroboration.py [--file evals/news_corroboration.jsonl] [--corpus PATH]
       [--duplicates evals/news_duplicates.json]

The dev set (issue 13, item 6) has three kinds of records, one JSON object per line:

* ``corroboration``: ``{id, kind, question, answers, supporting: [{doc_id, quote}], ...}``, a fact stated
  by two or more articles; every article of the corpus that states it is listed.
* ``update`` / ``differ``: ``{id, kind, question, values: [{doc_id, published_at, value, quote}], newest}``,
  a fact that a later article updates, or that sources state differently.
* ``timeline``: ``{id, kind, question, events: [{doc_id, published_at, quote}]}``, a story over days or
  weeks, oldest event first.

Optional fields, not required by the checker: ``outlets`` (the sources of the supporting articles),
``same_text_copies`` (supporting ids that are one article under two ids, see evals/news_duplicates.json:
one origin, not independent corroboration), ``wire_reports`` (supporting articles marked "(AP)"),
``also_consistent`` (articles that state a vaguer or earlier form of the fact; not expected as support),
``source`` on each value, and ``note`` (why an article that mentions the topic is left out, caveats).

Every ``doc_id`` must exist in the corpus (read from ``../shared``, never copied into the repository),
every ``quote`` must be an exact substring of its article's text, and every ``published_at`` must be the
article's. The script prints a summary per kind and exits 1 on any problem (2 if a file is missing).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVSET = ROOT / "evals" / "news_corroboration.jsonl"
DUPLICATES = ROOT / "evals" / "news_duplicates.json"
CORPUS = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"

KINDS = ("corroboration", "update", "differ", "timeline")
# Minimum number of records per group (issue 13 asks for 40 / 15 / 10; the dev set brief for 45 / 18 / 12).
MINIMUMS: dict[str, int] = {"corroboration": 45, "update+differ": 18, "timeline": 12}
MIN_QUOTE_CHARS = 5


@dataclass
class Report:
    """What :func:`validate` found: records per kind, and every problem as one line."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    documents: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_corpus(path: Path) -> dict[str, dict[str, str]]:
    """doc id -> article (``id``, ``title``, ``source``, ``published_at``, ``url``, ``text``)."""
    articles: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                article = json.loads(line)
                articles[article["id"]] = article
    return articles


def load_records(path: Path) -> list[dict]:
    """The dev set's records, one per non-empty line."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _check_quote(report: Report, where: str, item: object, corpus: dict[str, dict[str, str]]) -> str | None:
    """Check one ``{doc_id, quote}`` entry; return its doc id when the article exists."""
    if not isinstance(item, dict):
        report.problems.append(f"{where}: entry is not an object")
        return None
    doc_id, quote = item.get("doc_id"), item.get("quote")
    if not isinstance(doc_id, str) or doc_id not in corpus:
        report.problems.append(f"{where}: unknown doc_id {doc_id!r}")
        return None
    report.documents.add(doc_id)
    if not isinstance(quote, str) or len(quote.strip()) < MIN_QUOTE_CHARS:
        report.problems.append(f"{where}: quote missing or shorter than {MIN_QUOTE_CHARS} characters")
    elif quote not in corpus[doc_id]["text"]:
        report.problems.append(f"{where}: quote is not an exact substring of {doc_id}: {quote[:80]!r}")
    if "published_at" in item and item["published_at"] != corpus[doc_id]["published_at"]:
        report.problems.append(
            f"{where}: published_at {item['published_at']!r} is not {doc_id}'s {corpus[doc_id]['published_at']!r}"
        )
    return doc_id


def _check_corroboration(report: Report, rid: str, record: dict, corpus: dict[str, dict[str, str]]) -> None:
    answers = record.get("answers")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a for a in answers):
        report.problems.append(f"{rid}: answers must be a non-empty list of strings")
    supporting = record.get("supporting")
    if not isinstance(supporting, list):
        report.problems.append(f"{rid}: supporting must be a list")
        return
    ids = [_check_quote(report, f"{rid} supporting[{i}]", s, corpus) for i, s in enumerate(supporting)]
    distinct = {i for i in ids if i}
    if len(distinct) < 2:
        report.problems.append(
            f"{rid}: supporting lists {len(distinct)} distinct article(s), needs 2 or more"
        )
    if len(distinct) != len([i for i in ids if i]):
        report.problems.append(f"{rid}: an article is listed twice in supporting")
    for i, extra in enumerate(record.get("also_consistent") or []):
        doc_id = _check_quote(report, f"{rid} also_consistent[{i}]", extra, corpus)
        if doc_id in distinct:
            report.problems.append(f"{rid}: {doc_id} is both supporting and also_consistent")


def _check_values(report: Report, rid: str, record: dict, corpus: dict[str, dict[str, str]]) -> None:
    values = record.get("values")
    if not isinstance(values, list) or len(values) < 2:
        report.problems.append(f"{rid}: values must list 2 or more entries")
        return
    for i, value in enumerate(values):
        where = f"{rid} values[{i}]"
        _check_quote(report, where, value, corpus)
        if not isinstance(value, dict) or not value.get("value") or "published_at" not in value:
            report.problems.append(f"{where}: needs value and published_at")
    if any(not isinstance(v, dict) or "published_at" not in v for v in values):
        return
    dates = [v["published_at"] for v in values]
    if dates != sorted(dates):
        report.problems.append(f"{rid}: values are not in date order")
    newest = record.get("newest")
    if not isinstance(newest, str) or not newest:
        report.problems.append(f"{rid}: newest must be a non-empty string")
    elif record["kind"] == "update":
        if len(set(dates)) < 2:
            report.problems.append(f"{rid}: an update needs values from 2 or more dates")
        latest = [str(v.get("value", "")) for v in values if v["published_at"] == dates[-1]]
        if not any(newest in value for value in latest):
            report.problems.append(
                f"{rid}: newest {newest!r} is not the value of the latest-dated entry {latest}"
            )
    if len({str(v.get("value")) for v in values}) < 2:
        report.problems.append(f"{rid}: all values are the same; nothing was updated or differs")


def _check_timeline(report: Report, rid: str, record: dict, corpus: dict[str, dict[str, str]]) -> None:
    events = record.get("events")
    if not isinstance(events, list) or len(events) < 3:
        report.problems.append(f"{rid}: a timeline needs 3 or more events")
        return
    ids = [_check_quote(report, f"{rid} events[{i}]", e, corpus) for i, e in enumerate(events)]
    dates = [e.get("published_at") if isinstance(e, dict) else None for e in events]
    if any(not isinstance(d, str) for d in dates):
        report.problems.append(f"{rid}: every event needs published_at")
        return
    if dates != sorted(dates):
        report.problems.append(f"{rid}: events are not oldest first")
    if len({i for i in ids if i}) < 2 or len(set(dates)) < 2:
        report.problems.append(f"{rid}: a timeline needs events from 2 or more articles on distinct dates")


def validate(records: list[dict], corpus: dict[str, dict[str, str]], check_minimums: bool = True) -> Report:
    """Check every record against the corpus; the report lists each problem found."""
    report = Report()
    seen: set[str] = set()
    for n, record in enumerate(records, start=1):
        rid = str(record.get("id") or f"line {n}")
        if rid in seen:
            report.problems.append(f"{rid}: duplicate id")
        seen.add(rid)
        kind = record.get("kind")
        if kind not in KINDS:
            report.problems.append(f"{rid}: unknown kind {kind!r}")
            continue
        report.counts[kind] += 1
        if not isinstance(record.get("question"), str) or not record["question"].strip():
            report.problems.append(f"{rid}: question missing")
        if kind == "corroboration":
            _check_corroboration(report, rid, record, corpus)
        elif kind == "timeline":
            _check_timeline(report, rid, record, corpus)
        else:
            _check_values(report, rid, record, corpus)
    if check_minimums:
        got = {
            "corroboration": report.counts["corroboration"],
            "update+differ": report.counts["update"] + report.counts["differ"],
            "timeline": report.counts["timeline"],
        }
        for group, minimum in MINIMUMS.items():
            if got[group] < minimum:
                report.problems.append(f"{group}: {got[group]} records, the minimum is {minimum}")
    return report


def validate_duplicates(data: dict, corpus: dict[str, dict[str, str]]) -> list[str]:
    """Check evals/news_duplicates.json: each pair names two different, existing articles and says why."""
    problems: list[str] = []
    for key in ("pairs", "not_duplicates"):
        for n, pair in enumerate(data.get(key, [])):
            if not (isinstance(pair, list) and len(pair) == 3 and all(isinstance(x, str) for x in pair)):
                problems.append(f"duplicates {key}[{n}]: expected [id_a, id_b, why]")
                continue
            a, b, why = pair
            if a == b or a not in corpus or b not in corpus or not why.strip():
                problems.append(
                    f"duplicates {key}[{n}]: {a} / {b} must be two different corpus ids with a reason"
                )
    if not data.get("pairs"):
        problems.append("duplicates: no pairs")
    return problems


def summary(report: Report, records: list[dict]) -> str:
    """A few lines: records per kind, articles used, sizes of the supporting / value / event lists."""
    support = [len(r.get("supporting") or []) for r in records if r.get("kind") == "corroboration"]
    outlets = sum(1 for r in records if r.get("kind") == "corroboration" and len(r.get("outlets") or []) > 1)
    values = [len(r.get("values") or []) for r in records if r.get("kind") in ("update", "differ")]
    events = [len(r.get("events") or []) for r in records if r.get("kind") == "timeline"]
    lines = [
        "records: " + ", ".join(f"{kind} {report.counts[kind]}" for kind in KINDS),
        f"articles cited: {len(report.documents)}",
    ]
    if support:
        lines.append(
            f"corroboration: {sum(support)} supporting articles, {min(support)}-{max(support)} per question, "
            f"{outlets} questions with more than one outlet"
        )
    if values:
        lines.append(f"update/differ: {sum(values)} values, {min(values)}-{max(values)} per question")
    if events:
        lines.append(f"timeline: {sum(events)} events, {min(events)}-{max(events)} per question")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEVSET, help="the dev set (JSON lines)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the news corpus (JSON lines)")
    parser.add_argument("--duplicates", type=Path, default=DUPLICATES, help="near-duplicate pairs (JSON)")
    args = parser.parse_args(argv)
    for path in (args.file, args.corpus):
        if not path.exists():
            print(f"missing: {path}", file=sys.stderr)
            return 2
    corpus = load_corpus(args.corpus)
    records = load_records(args.file)
    report = validate(records, corpus)
    if args.duplicates.exists():
        data = json.loads(args.duplicates.read_text("utf-8"))
        report.problems.extend(validate_duplicates(data, corpus))
        print(
            f"duplicates: {len(data.get('pairs', []))} pairs, {len(data.get('not_duplicates', []))} not-duplicates"
        )
    print(summary(report, records))
    for problem in report.problems:
        print(f"PROBLEM {problem}")
    print("ok" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
