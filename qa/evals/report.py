"""Eval reports: the terminal summary table, and ``results.json`` + a self-contained ``report.html``.

Last stage of the harness (``dataset -> run -> baseline -> report``).  Plots are drawn with
matplotlib's ``Figure`` (no pyplot, no display) and inlined as base64 PNGs.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qa.evals.baseline import Regression, as_number, compare_to_baseline, load_baseline, metric_deltas
from qa.evals.corroboration_report import section
from qa.evals.metrics import COUNT_METRICS, EPS, HIGHER_IS_BETTER, LATENCY_METRICS, RATE_METRICS
from qa.evals.run import EvalResult, EvalRow, risk_coverage

RESULTS_JSON = "results.json"
REPORT_HTML = "report.html"


def _fmt(key: str, value: object) -> str:
    number = as_number(value)
    if number is None:
        return "n/a"
    if key in COUNT_METRICS:
        return str(int(number))
    if key in LATENCY_METRICS:
        return f"{number:.1f}"
    return f"{number:.3f}"


def _fmt_delta(key: str, delta: float | None) -> str:
    if delta is None:
        return ""
    return f"{delta:+.1f}" if key in LATENCY_METRICS else f"{delta:+.3f}"


def _table_keys() -> list[str]:
    return [*RATE_METRICS, *LATENCY_METRICS, *COUNT_METRICS]


def summary_table(
    result: EvalResult,
    baseline: str | Path | Mapping[str, Any] | None = None,
    tolerance: float = 0.02,
) -> str:
    """A plain-text table of the summary for the terminal, with baseline and delta columns if given."""
    base = load_baseline(baseline) if baseline is not None else None
    deltas = metric_deltas(result.summary, base) if base is not None else {}
    regressed = (
        {r.metric for r in compare_to_baseline(result, base, tolerance)} if base is not None else set()
    )
    header = ["metric", "value"] + (["baseline", "delta", ""] if base is not None else [])
    lines = [header]
    for key in _table_keys():
        row = [key, _fmt(key, result.summary.get(key))]
        if base is not None:
            flag = "REGRESSED" if key in regressed else ""
            row += [_fmt(key, base.get(key)), _fmt_delta(key, deltas.get(key)), flag]
        lines.append(row)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(out)


def _png_data_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _metrics_chart(summary: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> str:
    # Figure() without pyplot renders through Agg and leaves the process-wide backend alone.
    from matplotlib.figure import Figure

    keys = list(RATE_METRICS)
    current = [as_number(summary.get(k)) for k in keys]
    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot()
    xs = list(range(len(keys)))
    width = 0.4 if baseline is not None else 0.7
    nan = float("nan")
    if baseline is not None:
        base = [as_number(baseline.get(k)) for k in keys]
        ax.bar(
            [x - width / 2 for x in xs],
            [nan if v is None else v for v in base],
            width,
            label="baseline",
            color="#b0b7c3",
        )
        ax.bar(
            [x + width / 2 for x in xs],
            [nan if v is None else v for v in current],
            width,
            label="this run",
            color="#3b6fd8",
        )
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.bar(xs, [nan if v is None else v for v in current], width, color="#3b6fd8")
    for x, v in zip(xs, current, strict=True):
        offset = width / 2 if baseline is not None else 0
        ax.text(x + offset, (v or 0) + 0.02, "n/a" if v is None else f"{v:.2f}", ha="center", fontsize=7)
    ax.set_xticks(xs)
    ax.set_xticklabels(keys, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("rate")
    ax.set_title("Summary metrics (answerable_declined: lower is better)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png_data_uri(fig)


def _latency_chart(rows: Sequence[EvalRow]) -> str | None:
    from matplotlib.figure import Figure

    ask = [row.ask_ms for row in rows if row.ask_ms is not None]
    search = [row.search_ms for row in rows if row.search_ms is not None]
    if not ask and not search:
        return None
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    # Shared bin edges so the two series line up bar for bar.
    lo, hi = min(ask + search), max(ask + search)
    n_bins = min(30, max(5, max(len(ask), len(search)) // 2))
    width = (hi - lo) / n_bins or 1.0
    bins = [lo + i * width for i in range(n_bins + 1)]
    if search:
        ax.hist(search, bins=bins, alpha=0.6, label="search", color="#8a5cd8")
    if ask:
        ax.hist(ask, bins=bins, alpha=0.6, label="ask", color="#3b6fd8")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png_data_uri(fig)


def risk_coverage_chart(curves: Mapping[str, Sequence[tuple[float, float, float]]]) -> str | None:
    """Precision of answered questions against the share answered, one line per backend."""
    from matplotlib.figure import Figure

    if not any(curves.values()):
        return None
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for name, curve in curves.items():
        if curve:
            ax.plot([c for _, c, _ in curve], [p for _, _, p in curve], label=name)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("precision of answered")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1.0)
    ax.set_title("Risk and coverage as the confidence threshold rises", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png_data_uri(fig)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #dde2ea;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f5f9}td.id{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.summary{width:auto}tr.pass td.status{background:#d9f2df;color:#14532d;font-weight:600}
tr.fail td.status{background:#fbdada;color:#7f1d1d;font-weight:600}tr.regressed td{background:#fff1d6}
.bad{color:#b42318;font-weight:600}.good{color:#146c2e}.muted{color:#6b7280}.small{font-size:12px}
img{max-width:100%;border:1px solid #e5e8ee;border-radius:4px;margin:.4rem 0}
ul.cites{margin:0;padding-left:1.1rem}code{font-size:12px}.regressions{background:#fff1d6;padding:.5rem 1rem;border-radius:4px}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _summary_html(summary: Mapping[str, Any], baseline: Mapping[str, Any] | None, regressed: set[str]) -> str:
    deltas = metric_deltas(summary, baseline) if baseline is not None else {}
    head = "<tr><th>metric</th><th>value</th>" + (
        "<th>baseline</th><th>delta</th>" if baseline is not None else ""
    )
    parts = [f'<table class="summary">{head}</tr>']
    for key in _table_keys():
        cls = ' class="regressed"' if key in regressed else ""
        cells = f"<td>{_e(key)}</td><td class='num'>{_e(_fmt(key, summary.get(key)))}</td>"
        if baseline is not None:
            delta = deltas.get(key)
            tone = ""
            if delta is not None and key in RATE_METRICS and abs(delta) > EPS:
                better = delta > 0 if key in HIGHER_IS_BETTER else delta < 0
                tone = "good" if better else "bad"
            cells += (
                f"<td class='num'>{_e(_fmt(key, baseline.get(key)))}</td>"
                f"<td class='num {tone}'>{_e(_fmt_delta(key, delta))}</td>"
            )
        parts.append(f"<tr{cls}>{cells}</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def _rows_html(rows: Sequence[EvalRow]) -> str:
    parts = [
        "<table><tr><th>id</th><th>question</th><th>expected</th><th>answer</th>"
        "<th>citations</th><th>retrieval</th><th>scores</th><th>result</th></tr>"
    ]
    for row in rows:
        status = "pass" if row.passed else "fail"
        cites = "".join(
            f"<li class='{'good' if c['ok'] else 'muted'}'>[{_e(c['n'])}] <code>{_e(c['doc_id'])}"
            f":{_e(c['start'])}-{_e(c['end'])}</code> {_e(c['text'])}</li>"
            for c in row.citations
        )
        expected = "; ".join(row.expected) if row.answerable else "(unanswerable: should decline)"
        answer = _e(row.answer)
        if not row.answered:
            answer = f"<span class='muted'>[declined]</span> {answer}"
        if row.error:
            answer += f"<div class='bad small'>{_e(row.error)}</div>"
        rank = "n/a" if not row.answerable else ("miss" if row.hit_rank is None else f"rank {row.hit_rank}")
        retrieved = ", ".join(row.retrieved_doc_ids[:5])
        scores = (
            f"contains: {'yes' if row.contains_answer else 'no'}<br>F1: {row.f1:.2f}<br>"
            f"cite ok: {'yes' if row.citation_ok else 'no'}"
            if row.answerable
            else ""
        )
        parts.append(
            f"<tr class='{status}'><td class='id'><code>{_e(row.id)}</code></td><td>{_e(row.question)}</td>"
            f"<td>{_e(expected)}</td><td>{answer}</td><td><ul class='cites'>{cites}</ul></td>"
            f"<td class='small'>{_e(rank)}<br><span class='muted'>{_e(retrieved)}</span></td>"
            f"<td class='small'>{scores}</td><td class='status'>{status}</td></tr>"
        )
    parts.append("</table>")
    return "\n".join(parts)


def render_html(
    result: EvalResult,
    *,
    title: str,
    meta: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
    regressions: Sequence[Regression] = (),
    extra: str = "",
) -> str:
    """The self-contained HTML report (inline CSS, plots as base64 PNG, no scripts); ``extra``: more sections."""
    meta_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in meta.items())
    regression_html = ""
    if baseline is not None:
        if regressions:
            items = "".join(f"<li>{_e(r)}</li>" for r in regressions)
            regression_html = f"<div class='regressions'><b class='bad'>Regressions</b><ul>{items}</ul></div>"
        else:
            regression_html = "<p class='good'>No regressions against the baseline.</p>"
    latency = _latency_chart(result.rows)
    latency_html = (
        f"<img alt='latency histogram' src='{latency}'>" if latency else "<p class='muted'>No timings.</p>"
    )
    passed = sum(row.passed for row in result.rows)
    curve = risk_coverage_chart({str(meta.get("backend", "answers")): risk_coverage(result.rows)})
    curve_html = (
        f"<img alt='risk-coverage curve' src='{curve}'>"
        if curve
        else "<p class='muted'>No answered questions.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="muted">{passed} of {len(result.rows)} questions passed &middot; generated {_e(result.created_at)}</p>
<table class="summary">{meta_rows}</table>
<h2>Summary</h2>
{regression_html}
{_summary_html(result.summary, baseline, {r.metric for r in regressions})}
<img alt="summary metrics" src="{_metrics_chart(result.summary, baseline)}">
<h2>Risk and coverage</h2>
<p class="small muted">Answers sorted by confidence; each point is a threshold (QA_MIN_CONFIDENCE):
the share of all questions answered above it, and the share of those that are right.</p>
{curve_html}
<h2>Latency</h2>
{latency_html}
{extra}
<h2>Questions</h2>
{_rows_html(result.rows)}
</body></html>
"""


def write_results(
    result: EvalResult,
    out_dir: str | Path,
    *,
    title: str,
    meta: Mapping[str, Any],
    baseline: str | Path | Mapping[str, Any] | None = None,
    tolerance: float = 0.02,
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``report.html`` into ``out_dir`` (created if needed).

    Args:
        result: from :func:`qa.evals.run.run_eval`.
        out_dir: the output directory.
        title: the report heading.
        meta: run facts (backend, corpus, retrieval mode, date, ...) stored in the JSON and
            shown in the report; values that aren't JSON types are written with ``str``.
        baseline: a previous results JSON (path or dict) to show deltas and regressions against.
        tolerance: as in :func:`qa.evals.baseline.compare_to_baseline`.

    Returns:
        ``(json_path, html_path)``.  The JSON is itself a valid baseline for later runs.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = load_baseline(baseline) if baseline is not None else None
    regressions = compare_to_baseline(result, base, tolerance) if base is not None else []
    payload = {"title": title, "meta": dict(meta), **result.to_dict()}
    if base is not None:
        payload["baseline"] = {
            "summary": base,
            "deltas": metric_deltas(result.summary, base),
            "regressions": [asdict(r) for r in regressions],
            "tolerance": tolerance,
        }
    json_path = out / RESULTS_JSON
    html_path = out / REPORT_HTML
    json_path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    html_path.write_text(
        render_html(
            result, title=title, meta=meta, baseline=base, regressions=regressions, extra=section(out)
        ),
        encoding="utf-8",
    )
    return json_path, html_path
