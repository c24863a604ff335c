"""Question -> scored Passages: the question is encoded here, and the store searches.

Dense (vectors), BM25, or both fused with RRF; filters (source, published_at
range) and an as-of date apply to every mode (:mod:`qa.store.filters`).  Which
engine holds the index (FAISS + SQLite, or Milvus) is the store's business
(:class:`qa.store.ChunkStore`); the scoring both share, recency before fusion
included, is :mod:`qa.store.ranking`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from qa.pools import in_pool
from qa.store import ChunkStore, Filters, Mode, SearchRequest
from qa.types import Passage

__all__ = ["Filters", "Mode", "Retriever"]

log = logging.getLogger(__name__)

QUESTION_CACHE = 1024  # question vectors kept (1.5 KB each)
# From this many chunks a new question is encoded beside BM25 (measured at 1M: p50 15 -> 11 ms);
# below it BM25 takes well under a millisecond (0.3 ms at 7k) and the thread hop costs about as much.
OVERLAP_MIN_CHUNKS = 50_000


class Retriever:
    """Searches a :class:`ChunkStore`; see :mod:`qa.store.ranking` for the scoring."""

    def __init__(
        self,
        store: ChunkStore,
        encode: Callable[[Sequence[str]], np.ndarray],
        *,
        mode: Mode = "hybrid",
        rrf_k: int = 60,
        recency_half_life_days: float = 30.0,
    ) -> None:
        self.store = store
        self.encode = encode  # texts -> unit vectors (an Embedder's ``embed``, or a cache in front of it)
        self.mode = mode
        self.rrf_k = rrf_k
        self.half_life = recency_half_life_days
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the keyword index now rather than on the first question (where the store has one)."""
        if self.mode != "dense":
            self.store.warm_up()

    def search(
        self, question: str, k: int = 5, *, filters: Filters | None = None, mode: Mode | None = None
    ) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first."""
        mode = mode or self.mode
        vector: np.ndarray | Future[np.ndarray] | None = None
        beside = getattr(self.store, "reads_vector_last", False)  # the FAISS store; Milvus reads it first
        if (
            mode == "hybrid"
            and beside
            and not self._cached(question)
            and self.store.size() >= OVERLAP_MIN_CHUNKS
        ):
            # Encoded in another thread while the store scores BM25 (the encoder releases the GIL;
            # at 1M chunks BM25 costs about twice the encoding). Its own pool: a retrieval that
            # itself runs in the background pool never waits on a task queued behind it.
            vector = in_pool("encode", self._question_vector, question)
        elif mode in ("dense", "hybrid"):
            vector = self._question_vector(question)
        request = SearchRequest(question, vector, k, mode, filters or Filters(), self.rrf_k, self.half_life)
        return self.store.search(request)

    def search_vector(
        self, text: str, vector: np.ndarray, k: int, *, filters: Filters | None = None
    ) -> list[Passage]:
        """The ``k`` best passages for ``text`` whose vector is at hand (a stored sentence's): no encoding."""
        mode = self.mode if self.mode != "bm25" else "hybrid"
        request = SearchRequest(
            text, vector.reshape(1, -1), k, mode, filters or Filters(), self.rrf_k, self.half_life
        )
        return self.store.search(request)

    def fact_search(self, filters: Filters) -> Callable[[str, np.ndarray, int], list[Passage]]:
        """:meth:`search_vector` under ``filters`` (a question's filters and ``as_of``), for corroboration."""
        return lambda text, vector, n: self.search_vector(text, vector, n, filters=filters)

    def _cached(self, question: str) -> bool:
        with self._vectors_lock:
            return question in self._vectors

    def _question_vector(self, question: str) -> np.ndarray:
        """The question's vector, from a small LRU: a repeated question skips the encoder."""
        with self._vectors_lock:
            vector = self._vectors.get(question)
            if vector is not None:
                self._vectors.move_to_end(question)
                return vector
        vector = self.encode([question])
        with self._vectors_lock:
            self._vectors[question] = vector
            while len(self._vectors) > QUESTION_CACHE:
                self._vectors.popitem(last=False)
        return vector
