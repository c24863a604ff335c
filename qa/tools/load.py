"""A bounded load generator for a qa server on 127.0.0.1: N clients for D seconds on /search and /ask.

    python -m qa.tools.load --url http://127.0.0.1:8000 --clients 50 --duration 60 --out artifacts/load
    python -m qa.tools.load --spawn --index-dir /tmp/index-copy --with-ingest --api-key KEY --out artifacts/load

Each client loops: pick a question, send /search or /ask (``--ask-ratio``), record
the latency and status.  ``--with-ingest`` also POSTs small batches of articles
in a background task, so reads are measured while the index is being written.
Writes ``load.json`` and ``load.html`` (latency histogram) under ``--out`` and
exits 1 if any request failed (a non-2xx status or a transport error).  ``--spawn``
starts the server through :mod:`qa.tools.harness`; percentiles are
:func:`qa.evals.metrics.percentile` (linear interpolation).

Only 127.0.0.1 / localhost targets are accepted: this is a test tool, not a way
to load someone else's server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from qa.evals.metrics import rounded_percentile
from qa.tools.harness import ServerProcess, ServerStartError

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_FILE = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "qa.jsonl"
FALLBACK_QUESTIONS = [
    "What conditions did Russia set?",
    "Is Putin open to discussing a halt to strikes on civilian infrastructure?",
    "What did Dmitry Peskov say about direct talks?",
    "What did Zelensky propose?",
    "How long has the war in Ukraine lasted?",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Sample:
    route: str
    status: int  # 0 for a transport error
    latency_ms: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    ingest_batches: int = 0
    ingest_errors: list[str] = field(default_factory=list)
    started: float = 0.0
    elapsed: float = 0.0


def load_questions(path: Path = QUESTIONS_FILE) -> list[str]:
    """The news set's questions, or a built-in list about the seed article."""
    if not path.is_file():
        return FALLBACK_QUESTIONS
    questions = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            question = json.loads(line).get("question")
            if isinstance(question, str) and question.strip():
                questions.append(question.strip())
    return questions or FALLBACK_QUESTIONS


def check_local(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing to load {host!r}: only 127.0.0.1 / localhost targets are allowed")


async def client_loop(
    client: httpx.AsyncClient,
    questions: list[str],
    ask_ratio: float,
    deadline: float,
    run: Run,
    rng: random.Random,
) -> None:
    while time.monotonic() < deadline:
        question = rng.choice(questions)
        route = "ask" if rng.random() < ask_ratio else "search"
        start = time.perf_counter()
        try:
            if route == "ask":
                r = await client.post("/ask", json={"question": question})
            else:
                r = await client.get("/search", params={"q": question, "k": 5})
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        run.samples.append(Sample(route, status, (time.perf_counter() - start) * 1000))


async def ingest_loop(client: httpx.AsyncClient, api_key: str, deadline: float, run: Run) -> None:
    """POST batches of 5 fresh articles (plus an update of the first) until the deadline."""
    n = 0
    while time.monotonic() < deadline:
        docs = [
            {
                "id": f"load-{os.getpid()}-{n + i}",
                "title": f"Load test article {n + i}",
                "text": f"Load test article {n + i}. The council met about the harbor budget on day {n + i}. "
                "Members voted on the bridge repairs and the school schedule.",
            }
            for i in range(5)
        ]
        if n:
            docs.append({**docs[0], "id": f"load-{os.getpid()}-0", "text": f"Revised summary number {n}."})
        n += 5
        try:
            r = await client.post("/documents", json={"documents": docs}, headers={"X-API-Key": api_key})
            if r.status_code >= 300:
                run.ingest_errors.append(f"{r.status_code} {r.text[:200]}")
        except httpx.HTTPError as exc:
            run.ingest_errors.append(repr(exc))
        run.ingest_batches += 1
        await asyncio.sleep(0.5)


async def run_load(
    url: str,
    clients: int,
    duration: float,
    ask_ratio: float,
    api_key: str | None,
    with_ingest: bool,
    timeout: float,
) -> Run:
    questions = load_questions()
    run = Run()
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        run.started = time.monotonic()
        deadline = run.started + duration
        tasks = [
            client_loop(client, questions, ask_ratio, deadline, run, random.Random(i)) for i in range(clients)
        ]
        if with_ingest:
            assert api_key is not None
            tasks.append(ingest_loop(client, api_key, deadline, run))
        await asyncio.gather(*tasks)
        run.elapsed = time.monotonic() - run.started
    return run


def summarize(run: Run, args: argparse.Namespace) -> dict[str, object]:
    routes: dict[str, object] = {}
    for route in sorted({s.route for s in run.samples}):
        samples = [s for s in run.samples if s.route == route]
        ok = [s.latency_ms for s in samples if 200 <= s.status < 300]
        routes[route] = {
            "requests": len(samples),
            "errors": len(samples) - len(ok),
            "throughput_rps": round(len(samples) / run.elapsed, 2) if run.elapsed else 0.0,
            "p50_ms": rounded_percentile(ok, 50, 1),
            "p99_ms": rounded_percentile(ok, 99, 1),
            "max_ms": round(max(ok), 1) if ok else None,
        }
    statuses: dict[str, int] = {}
    for s in run.samples:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    errors = sum(1 for s in run.samples if not 200 <= s.status < 300) + len(run.ingest_errors)
    return {
        "url": args.url,
        "clients": args.clients,
        "duration_s": round(run.elapsed, 2),
        "ask_ratio": args.ask_ratio,
        "with_ingest": args.with_ingest,
        "requests": len(run.samples),
        "throughput_rps": round(len(run.samples) / run.elapsed, 2) if run.elapsed else 0.0,
        "errors": errors,
        "statuses": statuses,
        "routes": routes,
        "ingest": {"batches": run.ingest_batches, "errors": run.ingest_errors[:20]}
        if args.with_ingest
        else None,
    }


def histogram_png(run: Run) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for route in sorted({s.route for s in run.samples}):
        ax.hist(
            [s.latency_ms for s in run.samples if s.route == route], bins=50, alpha=0.6, label=f"/{route}"
        )
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title("Latency by route")
    ax.legend()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def write_report(summary: dict[str, object], run: Run, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    rows = "".join(
        f"<tr><td>/{route}</td><td>{r['requests']}</td><td>{r['throughput_rps']}</td><td>{r['p50_ms']}</td>"
        f"<td>{r['p99_ms']}</td><td>{r['errors']}</td></tr>"
        for route, r in summary["routes"].items()  # type: ignore[union-attr]
    )
    html = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>qa load test</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 12px;text-align:right}}</style></head>
<body><h1>qa load test</h1>
<p>{summary["clients"]} clients for {summary["duration_s"]} s against {summary["url"]}
{"with ingest" if summary["with_ingest"] else ""}: {summary["requests"]} requests,
{summary["throughput_rps"]} req/s, {summary["errors"]} errors.</p>
<table><tr><th>route</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>errors</th></tr>{rows}</table>
<img alt="latency histogram" src="data:image/png;base64,{histogram_png(run)}">
</body></html>
"""
    (out / "load.html").write_text(html, "utf-8")


def spawn(index_dir: Path, api_key: str, log_path: Path, ready_timeout: float = 180.0) -> ServerProcess:
    """Start ``qa serve`` over ``index_dir`` on a free port and wait for /health."""
    server = ServerProcess(
        index_dir,
        {
            "QA_API_KEYS": api_key,
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        },
        log=log_path,
        cwd=ROOT,
    )
    try:
        server.wait_ready(ready_timeout)
    except ServerStartError as exc:
        server.stop()
        raise SystemExit(f"{exc.reason}; see {log_path}") from None
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.tools.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server to load (127.0.0.1 only)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    parser.add_argument(
        "--ask-ratio", type=float, default=0.5, help="share of requests sent to /ask (default 0.5)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout, seconds")
    parser.add_argument(
        "--with-ingest", action="store_true", help="POST articles in the background during the run"
    )
    parser.add_argument(
        "--api-key", default=os.environ.get("QA_LOAD_API_KEY"), help="key for --with-ingest writes"
    )
    parser.add_argument("--spawn", action="store_true", help="start a qa serve over --index-dir for the run")
    parser.add_argument(
        "--index-dir", type=Path, help="index directory for --spawn (it is written to with ingest)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "artifacts" / "load", help="directory for JSON + HTML"
    )
    args = parser.parse_args(argv)

    if not 1 <= args.clients <= 1000 or not 0 < args.duration <= 3600 or not 0 <= args.ask_ratio <= 1:
        parser.error("need 1 <= --clients <= 1000, 0 < --duration <= 3600 and 0 <= --ask-ratio <= 1")
    if args.with_ingest and not args.api_key:
        parser.error("--with-ingest needs --api-key (or QA_LOAD_API_KEY)")
    server: ServerProcess | None = None
    if args.spawn:
        if args.index_dir is None:
            parser.error("--spawn needs --index-dir")
        server = spawn(args.index_dir, args.api_key or "load-tool-write-key", args.out / "server.log")
        args.url = server.url
    check_local(args.url)
    try:
        run = asyncio.run(
            run_load(
                args.url,
                args.clients,
                args.duration,
                args.ask_ratio,
                args.api_key,
                args.with_ingest,
                args.timeout,
            )
        )
    finally:
        if server is not None:
            server.stop()
    summary = summarize(run, args)
    write_report(summary, run, args.out)
    print(json.dumps({k: summary[k] for k in ("throughput_rps", "requests", "errors", "routes")}, indent=2))
    print(f"report: {args.out / 'load.html'}", file=sys.stderr)
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
