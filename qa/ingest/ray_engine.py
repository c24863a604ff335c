"""Scale-out ingest on Ray Data: ``qa ingest --engine ray`` (install with ``pip install -e ".[ray]"``).

Embedding is the cost of ingest, and it is embarrassingly parallel.  This
engine reads the articles in windows (``WINDOW`` articles), works out under the
store's write lock which of their chunk and sentence texts have no stored
vector yet (unchanged articles and reused texts cost nothing, as in a plain
ingest), and embeds exactly those on Ray: a ``ray.data`` dataset of texts,
``map_batches`` over a pool of actors (``_EmbedActor``) that each load the
model once.  Then the window goes through the ordinary write path
(:meth:`qa.pipeline.Pipeline.add_articles`: chunk, prepare, the store's one
idempotent write, annotation, signatures) with a :class:`RayEmbedder` that
answers from the vectors Ray computed.  So the store (Milvus or the embedded
one) sees the same writes as a plain ingest, and a killed run is completed by
a re-run, as a plain ingest's is.

Ray runs locally (one worker per core by default, ``--workers``) unless
``RAY_ADDRESS`` names a cluster, whose workers need the same ``qa`` installed.
``ray`` is imported here only, when the engine runs: the service never loads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.config import Settings
from qa.errors import ConfigError
from qa.ingest import embed
from qa.ingest.chunk import chunk_article, embedding_text, sentence_spans
from qa.ingest.embed import IngestReport, IngestResult, StoredVectors
from qa.ingest.load import Problem, article_batches
from qa.models.embedding import SentenceTransformerEmbedder, set_torch_threads
from qa.types import Article

log = logging.getLogger(__name__)

WINDOW = 2000  # articles whose missing vectors one Ray run computes (bounds the driver's memory)
WRITE_BATCH = 64  # articles per write, as a plain ingest
RAY_BATCH = 128  # texts per map_batches call


class Writable(Protocol):
    """What the engine needs of the store: its write lock, with the embed stage's questions."""

    def writer(self) -> Any: ...

    def compact(self) -> None: ...


class IngestTarget(Protocol):
    """What the engine needs of the pipeline (:class:`qa.pipeline.Pipeline` is one)."""

    settings: Settings
    embedder: Any

    def writable_store(self) -> Writable: ...

    def add_articles(
        self, articles: Sequence[Article], progress: Callable[[int], None] | None = None
    ) -> IngestReport: ...


class _EmbedActor:
    """A Ray actor: the model loaded once, then every batch of texts it is handed embedded."""

    def __init__(self, model: str, batch_size: int, precision: str, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        set_torch_threads(threads)
        self.embedder = SentenceTransformerEmbedder(model, batch_size, precision)
        self.embedder.warm_up()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": vectors}


class RayEmbedder:
    """An :class:`qa.models.embedding.Embedder` whose vectors come from Ray workers.

    :meth:`precompute` embeds texts on Ray and keeps the vectors; :meth:`embed`
    answers from them (texts it was not given first go to Ray too, counted in
    ``misses``).  The local model is loaded only for its dimension.
    """

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        self.name = settings.embedding_model
        self.settings = settings
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.local = SentenceTransformerEmbedder(
            settings.embedding_model, settings.embed_batch_size, settings.embed_precision
        )
        self.vectors: dict[str, np.ndarray] = {}
        self.misses = 0
        self._ray_started = False

    @property
    def dimension(self) -> int:
        return self.local.dimension

    def start(self) -> None:
        """Connect to ``RAY_ADDRESS``, or start a local Ray (no dashboard, a small object store)."""
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                'the ray engine needs Ray: pip install -e ".[ray]" (ray[data]==2.60.0)'
            ) from exc
        if ray.is_initialized():
            return
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=self.workers,
                include_dashboard=False,
                object_store_memory=512 * 1024 * 1024,
                logging_level=logging.WARNING,
                runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}},
            )
        self._ray_started = True

    def stop(self) -> None:
        if self._ray_started:
            import ray

            ray.shutdown()
            self._ray_started = False

    def precompute(self, texts: Iterable[str], progress: bool = False) -> int:
        """Embed on Ray those of ``texts`` without a vector here; returns how many were embedded."""
        todo = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if not todo:
            return 0
        self.start()
        import ray

        ray.data.DataContext.get_current().enable_progress_bars = progress
        threads = max(1, (self.settings.torch_threads or 1))
        ds = ray.data.from_items(
            [{"i": i, "text": t} for i, t in enumerate(todo)],
            override_num_blocks=min(len(todo), self.workers * 4),
        ).map_batches(
            _EmbedActor,
            fn_constructor_args=(
                self.settings.embedding_model,
                self.settings.embed_batch_size,
                self.settings.embed_precision,
                threads,
            ),
            batch_size=RAY_BATCH,
            batch_format="numpy",
            num_cpus=threads,
            concurrency=min(self.workers, max(1, len(todo) // RAY_BATCH + 1)),
        )
        for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
            for i, vector in zip(batch["i"], batch["vector"], strict=True):
                self.vectors[todo[int(i)]] = np.asarray(vector, dtype=np.float32)
        return len(todo)

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        missing = [t for t in texts if t not in self.vectors]
        if missing:
            self.misses += len(set(missing))
            self.precompute(missing)
        if progress is not None and texts:
            progress(len(texts))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])

    def clear(self) -> None:
        self.vectors.clear()


def missing_texts(articles: Sequence[Article], stored: Any, settings: Settings, model: str) -> list[str]:
    """The texts :func:`qa.ingest.embed.prepare` will embed for ``articles`` (``stored``: a writer): the
    chunk texts the store has no vector for, or, with derived chunk vectors, those chunks' titles
    and sentences; and the sentences the store lacks."""
    chunking = embed.chunking(settings, model)
    words, overlap = chunking.chunk_words, chunking.overlap_sentences
    todo = embed.changes(articles, stored.document_states([a.id for a in articles]), chunking)
    chunks: dict[str, tuple[str, str, list[str]]] = {}  # key -> (embedding text, title, sentences)
    for article, _ in todo.rewrite:
        for c in chunk_article(article, words, overlap):
            text = embedding_text(article.title, c.text)
            own = [c.text[start:end] for start, end in sentence_spans(c.text)]
            chunks[chunking.chunk_key(text)] = (text, article.title, own)
    vectors: StoredVectors = stored
    have = vectors.chunk_vectors(list(chunks))
    lacking = [v for h, v in chunks.items() if h not in have]
    sentences: dict[str, str] = {}
    read = list(chunks.values()) if settings.sentence_vectors else lacking if chunking.derived else []
    for _, _, own in read:
        sentences.update((embed.sentence_hash(model, t), t) for t in own)
    have_sentences = vectors.sentence_vectors_by_hash(list(sentences)) if sentences else {}
    if chunking.derived:
        # A chunk without a sentence is encoded whole (embed.prepare's fallback).
        first = sorted({title for _, title, _ in lacking if title}) + [t for t, _, own in lacking if not own]
    else:
        first = [text for text, _, _ in lacking]
    return first + [t for h, t in sentences.items() if h not in have_sentences]


def ingest(
    pipeline: IngestTarget,
    paths: Iterable[str | Path],
    *,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    window: int = WINDOW,
) -> IngestResult:
    """Ingest ``paths`` with embedding on Ray (``pipeline.embedder`` must be a :class:`RayEmbedder`)."""
    embedder = pipeline.embedder
    assert isinstance(embedder, RayEmbedder), "the ray engine needs a pipeline built with a RayEmbedder"
    store = pipeline.writable_store()
    result = IngestResult(IngestReport(), [])

    def flush(pending: list[Article]) -> None:
        with store.writer() as writer:
            texts = missing_texts(pending, writer, pipeline.settings, embedder.name)
        embedder.precompute(texts, progress=progress is not None)
        on_chunks = (lambda n: progress(0, n)) if progress else None
        for i in range(0, len(pending), WRITE_BATCH):
            part = pending[i : i + WRITE_BATCH]
            result.report.merge(pipeline.add_articles(part, on_chunks))
            if progress:
                progress(len(part), 0)
        embedder.clear()

    try:
        for pending in article_batches(paths, window, result.problems, on_problem):
            flush(pending)
    finally:
        embedder.stop()
    store.compact()
    return result
