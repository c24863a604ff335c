"""qa beside LlamaIndex (FAISS) and Haystack (in-memory), same corpus, model and chunks, one run.

Every framework embeds exactly the same chunk texts (qa's chunker output, 120
words) with the same MiniLM model and batch size on this machine; the peers run
in their own venv (``make bench-setup``), one subprocess each, with their
defaults otherwise (fp32).  Reported per system: ingest seconds and in-process
retrieval p50/p95 (top 5, no LLM) over the same distinct questions; qa's ingest
(timed after its encoder and spaCy are loaded, as the peers' after their models)
includes its sentence vectors (QA_SENTENCE_VECTORS) and its sentence parses
(QA_ANNOTATE=ingest) unless told otherwise, and
a raw fp32 ``model.encode`` of the chunks in the same process is the baseline
every ratio is taken against as well.  Each system runs ``--rounds`` times,
interleaved (raw, qa, LlamaIndex, Haystack, then again), and its median is
reported beside every round's time and load average.

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


def _warm(pipeline: Any) -> None:
    """Load what qa's ingest uses before the clock starts, as the peers' children load their models
    first: the batch encoder (compiled on first use) and spaCy.  The parse child's start stays inside."""
    pipeline.embedder.embed(["Warm up the batch encoder.", "And a second text."])
    pipeline.annotator.annotate(["Warm up spaCy."], persist=False)


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
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="interleaved rounds (raw, qa, each peer, then again): medians resist a load that drifts",
    )
    parser.add_argument(
        "--qa-derived",
        action="store_true",
        help="also ingest with QA_CHUNK_VECTORS=derived each round (chunk vectors derived from sentence vectors)",
    )
    parser.add_argument(
        "--qa-deferred",
        action="store_true",
        help="also ingest with QA_ANNOTATE=deferred and QA_CHUNK_VECTORS=derived each round: searchable "
        "when the ingest returns, parses left to `qa annotate` or the server's idle time (timed too)",
    )
    args = parser.parse_args()

    from qa.config import Settings
    from qa.ingest.backlog import annotate_pending
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
            "chunk_vectors": settings.chunk_vectors,
        }
    }

    # Interleaved rounds (raw encode, qa, each peer; again): ratios are only compared within one
    # run, and on a shared machine the load drifts within it; medians over rounds resist that.
    from qa.models.embedding import set_torch_threads

    peers = [p for p in args.peers.split(",") if p]
    work = Path(tempfile.mkdtemp(prefix="qa-peers-"))
    jsonl = work / "corpus.jsonl"
    jsonl.write_text("".join(json.dumps(a.__dict__) + "\n" for a in articles))
    variants = (["qa_derived"] if args.qa_derived else []) + (["qa_deferred"] if args.qa_deferred else [])
    variant_settings = {
        "qa_derived": {"chunk_vectors": "derived"},
        "qa_deferred": {"chunk_vectors": "derived", "annotate": "deferred"},
    }
    catch_up: list[float] = []  # qa_deferred: the parses done afterwards (`qa annotate`)
    times: dict[str, list[float]] = {name: [] for name in ("raw_encode", "qa", *variants, *peers)}
    loads: dict[str, list[float]] = {name: [] for name in times}
    query_ms: dict[str, list[float]] = {}
    distinct: list[float] = []
    repeated: list[float] = []
    job_path = work / "job.json"
    for round_n in range(args.rounds):
        set_torch_threads(os.cpu_count() or 1)  # batch work on every core, as `qa ingest` runs
        index_dir = work / f"index-{round_n}"
        pipeline = Pipeline(settings.model_copy(update={"index_dir": index_dir}))
        embedder = pipeline.embedder
        model = embedder._get_model()  # type: ignore[attr-defined]
        model.encode(chunks[:32], batch_size=settings.embed_batch_size)
        start = time.perf_counter()
        model.encode(chunks, batch_size=settings.embed_batch_size, normalize_embeddings=True)
        times["raw_encode"].append(time.perf_counter() - start)
        loads["raw_encode"].append(os.getloadavg()[0])
        _warm(pipeline)
        start = time.perf_counter()
        report = pipeline.ingest([jsonl]).report
        times["qa"].append(time.perf_counter() - start)
        loads["qa"].append(os.getloadavg()[0])
        print(
            f"round {round_n + 1}: raw fp32 encode {times['raw_encode'][-1]:.1f} s, "
            f"qa ingest {times['qa'][-1]:.1f} s ({report.chunks_embedded} chunks)",
            file=sys.stderr,
        )
        for variant in variants:
            update = {"index_dir": work / f"{variant}-{round_n}", **variant_settings[variant]}
            other = Pipeline(settings.model_copy(update=update))
            _warm(other)
            start = time.perf_counter()
            other.ingest([jsonl])
            times[variant].append(time.perf_counter() - start)
            loads[variant].append(os.getloadavg()[0])
            print(f"round {round_n + 1}: {variant} ingest {times[variant][-1]:.1f} s", file=sys.stderr)
            if variant == "qa_deferred":
                start = time.perf_counter()
                parsed = annotate_pending(other)
                catch_up.append(time.perf_counter() - start)
                print(f"  then {parsed} sentences parsed in {catch_up[-1]:.1f} s", file=sys.stderr)
        if round_n == 0:
            # Queries as `qa serve` runs them: a fresh pipeline whose encoders load with one
            # thread (the peers' child does the same).
            set_torch_threads(1)
            searcher = Pipeline(settings.model_copy(update={"index_dir": index_dir}))
            searcher.search(questions[0])
            for q in questions:
                t = time.perf_counter()
                searcher.search(q)
                distinct.append((time.perf_counter() - t) * 1000)
            for q in questions:
                t = time.perf_counter()
                searcher.search(q)
                repeated.append((time.perf_counter() - t) * 1000)
            job = {
                "model": str(resolve_model_path(settings.embedding_model)),
                "dimension": embedder.dimension,
                "chunks": chunks,
                "questions": questions,
                "batch_size": settings.embed_batch_size,
            }
            job_path.write_text(json.dumps(job))
        for peer in peers:
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
            times[peer].append(got["ingest_s"])
            loads[peer].append(os.getloadavg()[0])
            query_ms.setdefault(peer, []).extend(got["query_ms"])
            print(f"round {round_n + 1}: {peer} ingest {got['ingest_s']:.1f} s", file=sys.stderr)

    def ingest_of(name: str) -> dict[str, Any]:
        return {
            "ingest_s": round(statistics.median(times[name]), 2),
            "ingest_rounds_s": [round(t, 2) for t in times[name]],
            "load_average_1m": [round(x, 2) for x in loads[name]],
        }

    raw_s, ingest_s = statistics.median(times["raw_encode"]), statistics.median(times["qa"])
    results["raw_encode"] = ingest_of("raw_encode")
    results["qa"] = {**ingest_of("qa"), **summary(distinct), "repeated": summary(repeated)}
    for variant in variants:
        results[variant] = ingest_of(variant)
    if catch_up:
        results["qa_deferred"]["annotate_after_s"] = round(statistics.median(catch_up), 2)
    for peer in peers:
        if times[peer]:
            results[peer] = {**ingest_of(peer), **summary(query_ms[peer])}

    ratios: dict[str, float] = {"qa_ingest_vs_raw_encode": round(raw_s / ingest_s, 3)}
    for variant in variants:
        variant_s = statistics.median(times[variant])
        ratios[f"{variant}_ingest_speedup_vs_qa"] = round(ingest_s / variant_s, 3)
        ratios[f"{variant}_ingest_speedup_vs_raw_encode"] = round(raw_s / variant_s, 3)
        for peer in ("llamaindex", "haystack"):
            if times.get(peer):
                ratios[f"{variant}_ingest_speedup_vs_{peer}"] = round(
                    statistics.median(times[peer]) / variant_s, 3
                )
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
