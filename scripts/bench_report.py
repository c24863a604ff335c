"""Draw every benchmark's JSON in bench/out into one bench/out/bench.html (plots + tables).

``qa bench`` (bench.json: ingest against raw encode, HTTP latency),
scripts/bench_peers.py (peers.json: LlamaIndex, Haystack) and
scripts/bench_scale.py (scale.json: writes, search, recall, memory, cold opens by size),
scripts/bench_encoder.py (encoder.json: one question's encoding, option by option) and
scripts/vector_dtype_guard.py (vector_dtype.json: float32 against float16 bases) each
write their figures; this page puts whichever exist side by side.
Usage: python scripts/bench_report.py [--out bench/out]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    return f"<img style='max-width:100%' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    head = "".join(f"<th>{k}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{r.get(k, '')}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def peers_section(data: dict[str, Any]) -> str:
    from matplotlib.figure import Figure

    names = ("raw_encode", "qa", "qa_derived", "llamaindex", "haystack")
    systems = [s for s in names if "ingest_s" in data.get(s, {})]
    fig = Figure(figsize=(10, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(
        systems,
        [data[s]["ingest_s"] for s in systems],
        color=[dict(zip(names, ["#888", "#2a6", "#7c4", "#36c", "#c63"], strict=True))[s] for s in systems],
    )
    ax1.set_ylabel("seconds")
    ax1.set_title(f"Ingest of {data['meta']['chunks']} chunks (lower is better)")
    queried = [s for s in systems if "p50_ms" in data[s]]
    ax2.bar(queried, [data[s]["p50_ms"] for s in queried], color="#36c", label="p50")
    ax2.scatter(
        queried,
        [data[s]["p95_ms"] for s in queried],
        color="#c33",
        zorder=3,
        label="p95",
    )
    ax2.set_ylabel("ms")
    ax2.set_title("Retrieval latency, in-process, distinct questions")
    ax2.legend()
    rows = [{"system": s, **{k: v for k, v in data[s].items() if not isinstance(v, dict)}} for s in systems]
    return (
        f"<h2>Peers</h2><p>{data['meta']['date']} &middot; {data['meta']['machine']} &middot; "
        f"{data['meta']['articles']} articles</p>{_png(fig)}{_table(rows)}"
        f"<p>Ratios: {json.dumps(data.get('ratios', {}))}</p>"
    )


def scale_section(data: dict[str, Any]) -> str:
    from matplotlib.figure import Figure

    sizes = data["sizes"]
    n = [r["chunks"] for r in sizes]
    fig = Figure(figsize=(15, 3.4))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(n, [r["add_ms_p50"] for r in sizes], "o-", label="add one article")
    ax1.plot(n, [r["delete_ms_p50"] for r in sizes], "s-", label="delete one article")
    ax1.set_xscale("log")
    ax1.set_xlabel("chunks")
    ax1.set_ylabel("ms (median)")
    ax1.set_title("Write latency by index size")
    ax1.legend()
    ax2.plot(n, [r["search_hybrid_p50_ms"] for r in sizes], "o-", label="hybrid p50")
    ax2.plot(n, [r["search_hybrid_p95_ms"] for r in sizes], "o--", label="hybrid p95")
    ax2.plot(
        n,
        [r["vector_search_only_p50_ms"] for r in sizes],
        "s-",
        label="vector index only p50",
    )
    ax2.set_xscale("log")
    ax2.set_xlabel("chunks")
    ax2.set_ylabel("ms")
    ax2.set_title("Search latency by index size")
    ax2.legend()
    ax3.plot(n, [r["peak_rss_mb"] for r in sizes], "o-", label="peak RSS (MB)")
    ax3.plot(n, [r["disk_mb"] for r in sizes], "s-", label="disk (MB)")
    cold = [(r["chunks"], r["cold_open"]["ready_s"]) for r in sizes if r.get("cold_open")]
    if cold:
        ax3b = ax3.twinx()
        ax3b.plot(*zip(*cold, strict=True), "^--", color="gray", label="cold open, s (right)")
        ax3b.set_ylabel("s")
        ax3b.legend(loc="lower right")
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.set_xlabel("chunks")
    ax3.set_title("Memory, disk and cold open by size")
    ax3.legend(loc="upper left")
    flat = [{k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in r.items()} for r in sizes]
    return (
        f"<h2>Scale</h2><p>{data['meta']['date']} &middot; {data['meta']['machine']} &middot; "
        f"{data['meta']['how']}</p>{_png(fig)}{_table(flat)}<h3>HNSW against IVF</h3>{_table(data.get('ann', []))}"
    )


def encoder_section(data: dict[str, Any]) -> str:
    from matplotlib.figure import Figure

    options = data["options"]
    names = list(options)
    p50 = [options[n]["p50_ms"] for n in names]
    fig = Figure(figsize=(8, 3))
    ax = fig.subplots()
    ax.barh(names, p50, label="p50")
    ax.barh(
        names,
        [options[n]["p95_ms"] - p for n, p in zip(names, p50, strict=True)],
        left=p50,
        alpha=0.4,
        label="to p95",
    )
    ax.set_xscale("log")
    ax.set_xlabel("ms per question")
    ax.legend()
    rows = [{"option": n, **options[n]} for n in names]
    return (
        f"<h2>One question's encoding</h2><p>{data['date']} &middot; load average {data['load_average_1m']} "
        f"&middot; {data['questions']} distinct questions x {data['rounds']} rounds</p>{_png(fig)}{_table(rows)}"
    )


def dtype_section(data: dict[str, Any]) -> str:
    rows = [{"dtype": d, **data[d]} for d in ("float32", "float16") if d in data]
    same = {k: v for k, v in data.items() if k.startswith(("hybrid_same", "dense_same"))}
    return f"<h2>float32 against float16 bases</h2><p>{data['questions']} questions</p>{_table(rows)}<p>{json.dumps(same)}</p>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "bench/out"))
    args = parser.parse_args()
    out = Path(args.out)
    parts = []
    sections = (
        ("peers.json", peers_section),
        ("scale.json", scale_section),
        ("encoder.json", encoder_section),
        ("vector_dtype.json", dtype_section),
    )
    for name, section in sections:
        path = out / name
        if path.exists():
            parts.append(section(json.loads(path.read_text("utf-8"))))
    head = (
        "<!doctype html><meta charset=utf-8><title>qa benchmark</title>"
        "<style>body{font:14px system-ui;margin:2em;max-width:1100px}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ddd;text-align:right}</style><h1>qa benchmark</h1>"
    )
    bench = out / "bench.json"
    if bench.exists():
        import sys

        sys.path.insert(0, str(ROOT))
        from qa.tools.bench import _html

        results = json.loads(bench.read_text("utf-8"))
        if results.get("http"):
            head = _html(results)
    (out / "bench.html").write_text(head + "".join(parts))
    print(out / "bench.html")


if __name__ == "__main__":
    main()
