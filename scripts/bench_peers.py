"""qa beside LlamaIndex (FAISS) and Haystack (in-memory), same corpus, model and chunks, one run.

Every framework embeds exactly the same chunk texts (qa's chunker output, 120
words) with the same MiniLM model and batch size on this machine; the peers run
in their own venv (``make bench-setup``), one subprocess each, with their
defaults otherwise (fp32).  Reported per system: ingest seconds and in-process
retrieval p50/p95 (top 5, no LLM) over the same distinct questions; qa's ingest
includes its sentence vectors (QA_SENTENCE_VECTORS) unless told otherwise, and
a raw fp32 ``model.encode`` of the chunks in the same process is the baseline
every ratio is taken against as well.

Usage: python scripts/bench_peers.py --peer-python .bench-venv/bin/python [--limit-articles 150]
Writes bench/out/peers.json; scripts/bench_report.py draws it into bench/out/bench.html.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evals.metrics import rounded_percentile  # noqa: E402


def summary(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": rounded_percentile(ms, 95, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-python", default=str(ROOT / ".bench-venv/bin/python"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/datasets/realtimeqa_news/corpus.jsonl"))
    parser.add_argument("--limit-articles", type=int, default=150)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--peers", default="llamaindex,haystack")
    parser.add_argument("--out", default=str(ROOT / "bench/out"))
    args = parser.parse_args()

    from qa.config import Settings
    from qa.ingest.chunk import chunk_article, embedding_text
    from qa.ingest.load import Problem, load_articles
    from qa.models.embedding import resolve_model_path
    from qa.pipeline import Pipeline

    settings = Settings()
    corpus = Path(args.corpus)
    articles = [a for a in load_articles([corpus]) if not isinstance(a, Problem)][: args.limit_articles]
    chunks = [
        embedding_text(a.title, c.text)
        for a in articles
        for c in chunk_article(a, settings.chunk_words, settings.chunk_overlap_sentences)
    ]
    qa_path = corpus.parent / "qa.jsonl"
    questions = [
        json.loads(line)["question"] for line in qa_path.read_text("utf-8").splitlines() if line.strip()
    ]
    questions = list(dict.fromkeys(questions))[: args.questions]
    print(
        f"{len(articles)} articles, {len(chunks)} chunks, {len(questions)} distinct questions",
        file=sys.stderr,
    )

    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), shared",
            "articles": len(articles),
            "chunks": len(chunks),
            "questions": len(questions),
            "batch_size": settings.embed_batch_size,
            "precision": settings.embed_precision,
            "sentence_vectors": settings.sentence_vectors,
        }
    }

    # qa first, then the peers, in one run: ratios are only compared within it.
    index_dir = Path(tempfile.mkdtemp(prefix="qa-peers-"))
    pipeline = Pipeline(settings.model_copy(update={"index_dir": index_dir}))
    embedder = pipeline.embedder
    model = embedder._get_model()  # type: ignore[attr-defined]
    model.encode(chunks[:32], batch_size=settings.embed_batch_size)
    start = time.perf_counter()
    model.encode(chunks, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    raw_s = time.perf_counter() - start
    print(f"raw fp32 encode: {raw_s:.1f} s", file=sys.stderr)
    jsonl = index_dir / "corpus.jsonl"
    jsonl.write_text("".join(json.dumps(a.__dict__) + "\n" for a in articles))
    start = time.perf_counter()
    report = pipeline.ingest([jsonl]).report
    ingest_s = time.perf_counter() - start
    print(f"qa ingest: {ingest_s:.1f} s ({report.chunks_embedded} chunks)", file=sys.stderr)
    from qa.models.embedding import set_torch_threads

    set_torch_threads(1)  # queries as qa serve runs them (the peers' child does the same)
    pipeline.search(questions[0])
    distinct = []
    for q in questions:
        t = time.perf_counter()
        pipeline.search(q)
        distinct.append((time.perf_counter() - t) * 1000)
    repeated = []
    for q in questions:
        t = time.perf_counter()
        pipeline.search(q)
        repeated.append((time.perf_counter() - t) * 1000)
    results["raw_encode"] = {"ingest_s": round(raw_s, 2)}
    results["qa"] = {
        "ingest_s": round(ingest_s, 2),
        **summary(distinct),
        "repeated": summary(repeated),
    }

    job = {
        "model": str(resolve_model_path(settings.embedding_model)),
        "dimension": embedder.dimension,
        "chunks": chunks,
        "questions": questions,
        "batch_size": settings.embed_batch_size,
    }
    job_path = index_dir / "job.json"
    job_path.write_text(json.dumps(job))
    for peer in [p for p in args.peers.split(",") if p]:
        print(f"{peer}...", file=sys.stderr)
        proc = subprocess.run(
            [args.peer_python, str(ROOT / "scripts/bench_peer_child.py"), peer, str(job_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            results[peer] = {"error": proc.stderr[-500:]}
            continue
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        results[peer] = {"ingest_s": round(got["ingest_s"], 2), **summary(got["query_ms"])}
        print(f"{peer}: ingest {got['ingest_s']:.1f} s", file=sys.stderr)

    ratios: dict[str, float] = {"qa_ingest_vs_raw_encode": round(raw_s / ingest_s, 3)}
    for peer in ("llamaindex", "haystack"):
        if "ingest_s" in results.get(peer, {}):
            ratios[f"qa_ingest_speedup_vs_{peer}"] = round(results[peer]["ingest_s"] / ingest_s, 3)
            ratios[f"qa_search_p50_over_{peer}"] = round(results["qa"]["p50_ms"] / results[peer]["p50_ms"], 3)
    results["ratios"] = ratios
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "meta"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
