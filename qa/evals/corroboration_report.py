"""The corroboration eval's HTML: its own page, and the section the main eval report shows.

``evals/corroboration.py`` writes ``corroboration.json`` and ``corroboration.html``
(:func:`render_page`) into ``evals/out/``; :func:`section` finds that JSON beside or
above an eval report's folder, so ``qa eval``'s ``report.html`` shows the corroboration
figures (corroboration recall and precision, update-awareness, timeline order) with a
link to the full page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CORROBORATION_JSON = "corroboration.json"
CORROBORATION_HTML = "corroboration.html"
# (metric, target, higher is better): the targets on the dev set.
TARGETS: dict[str, tuple[float, bool]] = {
    "corroboration_recall": (0.8, True),
    "corroboration_recall_answered": (0.8, True),
    "corroboration_precision": (0.9, True),
    "shows_both": (0.8, True),
    "newest_leads": (0.9, True),
    "timeline_order_accuracy": (0.9, True),
    "ask_p50_ms": (60.0, False),
}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def summary_table(summary: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> str:
    """The summary as an HTML table: value, the run before (if given), and the target."""
    head = (
        "<tr><th>metric</th><th>value</th>" + ("<th>before</th>" if before else "") + "<th>target</th></tr>"
    )
    rows = [head]
    for key, value in summary.items():
        if isinstance(value, Mapping):
            continue
        target = TARGETS.get(key)
        mark = ""
        if target is not None and isinstance(value, int | float):
            ok = value >= target[0] if target[1] else value < target[0]
            mark = f" class='{'good' if ok else 'bad'}'"
        goal = "" if target is None else f"{'&ge;' if target[1] else '&lt;'} {target[0]}"
        was = f"<td>{_e((before or {}).get(key, ''))}</td>" if before else ""
        rows.append(f"<tr><th>{_e(key)}</th><td{mark}>{_e(value)}</td>{was}<td>{goal}</td></tr>")
    return f"<table class='summary'>{''.join(rows)}</table>"


def _records(title: str, rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_e(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<h2>{_e(title)}</h2><table><tr>{head}</tr>{body}</table>"


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;font-size:.85em;text-align:left;"
    "vertical-align:top}.good{color:#070}.bad{color:#b00}"
)


def render_page(data: Mapping[str, Any]) -> str:
    """The self-contained corroboration page: summary with targets, then every record."""
    summary = data.get("summary", {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corroboration eval</title><style>{_CSS}</style></head>
<body><h1>Corroboration, time-aware and timeline answers (news dev set)</h1>
<p>Dev set: evals/news_corroboration.jsonl; figures from evals/corroboration.py.</p>
{summary_table(summary, data.get("before"))}
{_records("Corroboration records", data.get("corroboration", []))}
{_records("Update / differ records", data.get("differ", []))}
{_records("Timeline records", data.get("timeline", []))}
</body></html>
"""


def section(out_dir: Path) -> str:
    """The main report's corroboration section, when a corroboration run wrote its JSON nearby; else ''."""
    for folder in (out_dir, out_dir.parent):
        path = folder / CORROBORATION_JSON
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return ""
        link = Path("..") / CORROBORATION_HTML if folder != out_dir else Path(CORROBORATION_HTML)
        return (
            "<h2>Corroboration and time-aware answers</h2>"
            f"<p class='small muted'>From the last corroboration run (evals/corroboration.py): "
            f"<a href='{_e(link.as_posix())}'>full page</a>.</p>"
            f"{summary_table(data.get('summary', {}))}"
        )
    return ""
