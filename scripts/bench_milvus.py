"""The embedded store (FAISS + SQLite) beside Milvus Lite on the same index, one run: quality and speed.

1. Migrates the embedded index (``--index``) into a Milvus Lite file (``--milvus``)
   with ``qa migrate --to milvus`` (no re-embedding; its own process) and times it; a file
   that already holds the index makes this a resumable no-op, reported as such.
2. Runs ``qa check`` on the Milvus store.
3. Over the dev questions (``qa.jsonl``): hit@1, hit@5 and MRR (over the top 10 distinct
   documents, as ``qa eval`` counts them) on both stores, with the questions' as-of dates
   (``qa eval``'s default; Milvus then fuses its two filtered searches in Python) and
   without (Milvus fuses inside ``hybrid_search``).
4. Search latency (``Pipeline.search``, top 5, hybrid) over the same distinct questions on
   both stores, alternating store per question after one warm-up pass each: p50, p95 and
   the Milvus / embedded ratio.  The question's embedding is cached by then on both, so
   this is the store's search, not the model (question vectors are computed once, in one batch).

Usage: python scripts/bench_milvus.py [--index index/eval-realtimeqa_news] [--milvus bench/out/news-milvus.db]
Writes bench/out/milvus.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evals.metrics import document_rank, rounded_percentile  # noqa: E402


class QuestionVectors:
    """The embedder, with every question's vector computed once, in one batch (:meth:`prime`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.vectors: dict[str, Any] = {}

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def prime(self, texts: list[str]) -> None:
        texts = list(dict.fromkeys(texts))
        self.vectors.update(zip(texts, self.inner.embed(texts, batch_size=32), strict=True))

    def embed(self, texts: Any, **kwargs: Any) -> Any:
        import numpy as np

        if all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        return self.inner.embed(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def metrics(pipeline: Any, items: list[Any], as_of: bool, label: str) -> dict[str, float]:
    from tqdm import tqdm

    ranks = []
    for item in tqdm(items, desc=label, unit="q", file=sys.stderr):
        passages = pipeline.search(item.question, 10, as_of=item.as_of if as_of else None)
        ranks.append(document_rank(passages, item.evidence_doc_ids))
    n = len(ranks)
    return {
        "n": n,
        "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
        "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, default=ROOT / "index/eval-realtimeqa_news")
    parser.add_argument("--milvus", type=Path, default=ROOT / "bench/out/news-milvus.db")
    parser.add_argument(
        "--questions", type=Path, default=ROOT.parent / "shared/datasets/realtimeqa_news/qa.jsonl"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed searches per question and store")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/milvus.json")
    args = parser.parse_args()

    from qa.config import Settings
    from qa.evals.dataset import load_eval_items
    from qa.models.embedding import SentenceTransformerEmbedder, set_torch_threads
    from qa.pipeline import Pipeline

    set_torch_threads(1)  # a shared machine: one thread per process spins less than two
    embedder = QuestionVectors(SentenceTransformerEmbedder())
    milvus_settings = Settings(
        index_dir=args.milvus.parent / "milvus-index", store="milvus", milvus_uri=str(args.milvus)
    )
    existed = args.milvus.exists()
    # `qa migrate` in its own process, as a deployment runs it (and Milvus Lite is not reopened in this one).
    command = [
        str(Path(sys.executable).parent / "qa"),
        "migrate",
        "--to",
        "milvus",
        "--from",
        str(args.index),
    ]
    command += ["--uri", str(args.milvus), "--index-dir", str(milvus_settings.index_dir), "-q"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    migrate_s = round(time.perf_counter() - start, 1)
    print(f"migrate ({migrate_s} s): {done.stdout.strip()}", file=sys.stderr)
    if done.returncode != 0:
        raise SystemExit(f"qa migrate failed ({done.returncode}): {done.stderr[-2000:]}")

    embedded = Pipeline(Settings(index_dir=args.index), embedder=embedder)
    milvus = Pipeline(milvus_settings, embedder=embedder)  # each retriever keeps its question vectors
    check = milvus.check()
    items = [i for i in load_eval_items(args.questions) if i.evidence_doc_ids]
    embedder.prime([i.question for i in items])  # one batch; both stores then search the same vectors
    quality = {}
    for as_of in (True, False):
        key = "as_of" if as_of else "no_as_of"
        quality[key] = {
            name: metrics(p, items, as_of, f"{key} {name}")
            for name, p in (("embedded", embedded), ("milvus", milvus))
        }
        print(f"{key}: {quality[key]}", file=sys.stderr)

    questions = list(dict.fromkeys(i.question for i in items))
    for p in (embedded, milvus):  # warm-up pass: caches, loaded segments
        for q in questions:
            p.search(q, 5)
    times: dict[str, list[float]] = {"embedded": [], "milvus": []}
    from tqdm import tqdm

    for _ in range(args.repeats):
        for q in tqdm(questions, desc="latency", unit="q", file=sys.stderr):
            for name, p in (("embedded", embedded), ("milvus", milvus)):
                t = time.perf_counter()
                p.search(q, 5)
                times[name].append((time.perf_counter() - t) * 1000)
    latency = {
        name: {"p50_ms": round(statistics.median(ms), 2), "p95_ms": rounded_percentile(ms, 95, 2)}
        for name, ms in times.items()
    }
    latency["ratio_p50"] = round(latency["milvus"]["p50_ms"] / latency["embedded"]["p50_ms"], 1)
    latency["ratio_p95"] = round(latency["milvus"]["p95_ms"] / latency["embedded"]["p95_ms"], 1)
    stats = milvus.stats()
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
        "migration": {"seconds": migrate_s, "fresh": not existed, "output": done.stdout.strip()},
        "milvus_counts": {"documents": stats["documents"], "chunks": stats["chunks"]},
        "embedded_counts": {k: embedded.stats()[k] for k in ("documents", "chunks")},
        "qa_check_milvus": check or "consistent",
        "quality": quality,
        "search": {"questions": len(questions), "repeats": args.repeats, **latency},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    milvus.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
