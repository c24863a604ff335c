"""``qa bench``: ingest throughput against raw ``model.encode``, and HTTP latency of /search and /ask.

1. The corpus is chunked; raw ``SentenceTransformer.encode`` is timed on exactly
   those chunk texts and batch size, and on the distinct sentences that ingest
   also embeds (QA_SENTENCE_VECTORS).
2. The same corpus is ingested through the pipeline into a fresh index; raw
   time over qa's time for the same work is qa's overhead (1.0 = none).
3. A real ``qa serve`` process on 127.0.0.1 (:mod:`qa.tools.harness`) answers every
   question of the set once on ``/search`` and once on ``/ask``, sequentially; p50/p95
   (:func:`qa.evals.metrics.percentile`, linear interpolation) are reported.

Figures are printed and written as JSON and an HTML page with plots.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from qa.cli_common import settings_from_args
from qa.config import Settings
from qa.evals.metrics import rounded_percentile
from qa.tools.harness import ServerProcess


def measure_ingest(corpus: Path, settings: Settings, limit: int | None) -> dict[str, Any]:
    from tqdm import tqdm

    from qa.ingest.chunk import chunk_article, embedding_text, sentence_spans
    from qa.ingest.load import Problem, load_articles
    from qa.pipeline import Pipeline

    articles = [a for a in load_articles([corpus]) if not isinstance(a, Problem)]
    if limit:
        articles = articles[:limit]
    chunked = [
        (a, c)
        for a in articles
        for c in chunk_article(a, settings.chunk_words, settings.chunk_overlap_sentences)
    ]
    texts = [embedding_text(a.title, c.text) for a, c in chunked]
    # The sentences ingest embeds too (once per distinct text), for the same-work baseline.
    sentences: list[str] = []
    if settings.sentence_vectors:
        sentences = list(dict.fromkeys(c.text[s:e] for _, c in chunked for s, e in sentence_spans(c.text)))
    index_dir = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    pipeline = Pipeline(settings.model_copy(update={"index_dir": index_dir}))
    model = pipeline.embedder._get_model()  # type: ignore[attr-defined]
    model.encode(texts[:32], batch_size=settings.embed_batch_size)  # warm up

    def raw(items: list[str], batch: int, label: str) -> float:
        print(f"raw encode of {len(items)} {label} (batch {batch})...", file=sys.stderr)
        start = time.perf_counter()
        for i in tqdm(range(0, len(items), 256), desc=f"raw {label}", file=sys.stderr, mininterval=2.0):
            model.encode(items[i : i + 256], batch_size=batch, normalize_embeddings=True)
        return time.perf_counter() - start

    raw_s = raw(texts, settings.embed_batch_size, "chunks")
    raw_sentences_s = raw(sentences, 64, "sentences") if sentences else 0.0

    jsonl = index_dir / "bench-corpus.jsonl"
    with jsonl.open("w") as handle:
        for a in articles:
            handle.write(json.dumps(a.__dict__) + "\n")
    start = time.perf_counter()
    with tqdm(total=len(texts), desc="qa ingest", unit=" chunks", file=sys.stderr, mininterval=2.0) as bar:
        result = pipeline.ingest([jsonl], progress=lambda _a, c: bar.update(c))
    ingest_s = time.perf_counter() - start
    jsonl.unlink()
    chunks = result.report.chunks_embedded
    return {
        "articles": len(articles),
        "chunks": chunks,
        "sentences": len(sentences),
        "raw_encode_s": round(raw_s, 2),
        "raw_chunks_per_s": round(len(texts) / raw_s, 2),
        "raw_sentences_encode_s": round(raw_sentences_s, 2),
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(chunks / ingest_s, 2),
        # Same embedding work (chunks + sentences) raw vs through qa: the pipeline's overhead.
        "ratio_ingest_to_raw": round((raw_s + raw_sentences_s) / ingest_s, 3),
        # Chunks/s of qa ingest against raw chunk encoding alone (sentence vectors included in qa's time).
        "ratio_ingest_to_raw_chunks_only": round((chunks / ingest_s) / (len(texts) / raw_s), 3),
        "index_dir": str(index_dir),
    }


def measure_http(
    index_dir: Path,
    questions: list[dict[str, Any]],
    backend: str | None,
    tree: Path | None = None,
    passes: int = 1,
) -> dict[str, Any]:
    """``/search`` then ``/ask`` for each question against ``qa serve`` on ``index_dir``.

    ``tree``: the code tree the server runs (its working directory, which ``python -m``
    imports ``qa`` from before ``PYTHONPATH``); default this process's working directory.
    ``passes``: how many times the questions are asked of the one server; the figures are the
    first pass's (questions new to the server), and ``"passes"`` lists every pass's figures
    (the later ones show its caches).
    """
    from tqdm import tqdm

    env = {"QA_LOG_LEVEL": "warning"}
    if backend:
        env["QA_BACKEND"] = backend
    runs: list[dict[str, Any]] = []
    with (
        ServerProcess(index_dir, env, cwd=tree) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        server.wait_ready(timeout=120)
        for _ in range(max(1, passes)):
            search_ms: list[float] = []
            ask_ms: list[float] = []
            errors = 0
            for q in tqdm(questions, desc="http", unit="q", file=sys.stderr, mininterval=2.0):
                start = time.perf_counter()
                r = client.get("/search", params={"q": q["question"], "k": 5})
                search_ms.append((time.perf_counter() - start) * 1000)
                errors += r.status_code != 200
                body: dict[str, Any] = {"question": q["question"]}
                if q.get("question_date"):
                    body["as_of"] = q["question_date"]
                start = time.perf_counter()
                r = client.post("/ask", json=body)
                ask_ms.append((time.perf_counter() - start) * 1000)
                errors += r.status_code != 200
            runs.append(
                {
                    "questions": len(questions),
                    "errors": errors,
                    "search_p50_ms": rounded_percentile(search_ms, 50, 2),
                    "search_p95_ms": rounded_percentile(search_ms, 95, 2),
                    "ask_p50_ms": rounded_percentile(ask_ms, 50, 2),
                    "ask_p95_ms": rounded_percentile(ask_ms, 95, 2),
                    "search_ms": [round(v, 2) for v in search_ms],
                    "ask_ms": [round(v, 2) for v in ask_ms],
                }
            )
    first = dict(runs[0])
    if passes > 1:
        first["passes"] = [{k: v for k, v in run.items() if not isinstance(v, list)} for run in runs]
    return first


def _html(results: dict[str, Any]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    ing = results["ingest"]
    labels = ["raw model.encode", "qa ingest"]
    ax1.bar(
        labels,
        [ing["raw_encode_s"], ing["ingest_s"]],
        color=["#888", "#2a6"],
        label="chunks (qa: everything)",
    )
    ax1.bar(
        labels[:1],
        [ing["raw_sentences_encode_s"]],
        bottom=[ing["raw_encode_s"]],
        color="#bbb",
        label="sentences",
    )
    ax1.set_ylabel("seconds for the corpus")
    ax1.set_title(f"Ingest, same work (ratio {ing['ratio_ingest_to_raw']:.2f})")
    ax1.legend()
    http = results["http"]
    ax2.hist([http["search_ms"], http["ask_ms"]], bins=30, label=["/search", "/ask"], color=["#36c", "#c63"])
    ax2.set_xlabel("latency (ms)")
    ax2.set_title("HTTP latency, 127.0.0.1, sequential")
    ax2.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    img = base64.b64encode(buf.getvalue()).decode()
    rows = "".join(
        f"<tr><td>{k}</td><td>{v}</td></tr>"
        for section in ("ingest", "http")
        for k, v in results[section].items()
        if not isinstance(v, list)
    )
    return (
        "<!doctype html><meta charset=utf-8><title>qa benchmark</title>"
        "<style>body{font:14px system-ui;margin:2em;max-width:1100px}td{padding:2px 12px;border-bottom:1px solid #ddd}</style>"
        f"<h1>qa benchmark</h1><p>{results['meta']['date']} &middot; {results['meta']['machine']}</p>"
        f"<img alt='throughput and latency plots' src='data:image/png;base64,{img}' style='max-width:100%'>"
        f"<table>{rows}</table>"
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    corpus = Path(args.corpus)
    qa_path = Path(args.questions) if args.questions else corpus.parent / "qa.jsonl"
    if not corpus.exists():
        print(f"qa: corpus {corpus} not found (pass --corpus)", file=sys.stderr)
        return 1
    questions = (
        [json.loads(line) for line in qa_path.read_text("utf-8").splitlines() if line.strip()]
        if qa_path.exists()
        else []
    )
    if args.limit_questions:
        questions = questions[: args.limit_questions]
    ingest = measure_ingest(corpus, settings, args.limit_articles)
    http = measure_http(Path(ingest["index_dir"]), questions, args.backend) if questions else {}
    results = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": f"{os.cpu_count()} CPUs, {sys.platform}",
            "corpus": str(corpus),
            "embedding_model": settings.embedding_model,
            "batch_size": settings.embed_batch_size,
            "chunk_words": settings.chunk_words,
            "backend": args.backend or settings.backend,
        },
        "ingest": ingest,
        "http": http,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    if http:
        (out / "bench.html").write_text(_html(results))
    print(f"ingest: {ingest['articles']} articles, {ingest['chunks']} chunks in {ingest['ingest_s']} s")
    print(
        f"  raw model.encode: {ingest['raw_chunks_per_s']} chunks/s; qa ingest: {ingest['ingest_chunks_per_s']} chunks/s"
    )
    print(
        f"  raw encode of the {ingest['sentences']} sentences ingest also embeds: {ingest['raw_sentences_encode_s']} s"
    )
    print(f"  ratio raw encode / qa ingest, same work (chunks + sentences): {ingest['ratio_ingest_to_raw']}")
    print(
        f"  ratio qa ingest chunks/s / raw chunk encode chunks/s: {ingest['ratio_ingest_to_raw_chunks_only']}"
    )
    if http:
        print(f"http ({http['questions']} questions, {http['errors']} errors):")
        print(f"  /search p50 {http['search_p50_ms']} ms, p95 {http['search_p95_ms']} ms")
        print(f"  /ask    p50 {http['ask_p50_ms']} ms, p95 {http['ask_p95_ms']} ms")
    print(f"written: {out / 'bench.json'}" + (f", {out / 'bench.html'}" if http else ""))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``qa bench``'s options on its subparser (called by :mod:`qa.cli` when it is parsed)."""
    p.add_argument(
        "--corpus", default="../shared/datasets/realtimeqa_news/corpus.jsonl", help="articles (.jsonl)"
    )
    p.add_argument("--questions", help="questions (.jsonl; default qa.jsonl beside the corpus)")
    p.add_argument("--limit-articles", type=int, help="only the first N articles")
    p.add_argument("--limit-questions", type=int, help="only the first N questions")
    p.add_argument("--backend", help="backend for /ask (default QA_BACKEND)")
    p.add_argument("--out", default="bench/out", help="output directory (default bench/out)")
    p.set_defaults(func=run)
