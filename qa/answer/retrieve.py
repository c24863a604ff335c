"""Question -> scored Passages: dense (FAISS), BM25 (bm25s), or both fused with RRF.

Filters (source, published_at range) and an as-of date apply to every mode
(:mod:`qa.store.filters`).  The vector and keyword indexes themselves live with
the store's snapshot (:mod:`qa.store.vectors`, :mod:`qa.store.segments`), so a
write extends them instead of rebuilding them; retrieval only calls their
search methods and reads chunk records back.
With an as-of date, articles published after it are excluded and each ranking's
scores (cosine, BM25) are scaled by a recency factor
``0.5 + 0.5 * 2**(-age_days / half_life)`` before fusion, so an article from the
as-of week outranks an otherwise equal one from a year before, but a strong
older match still beats a weak recent one.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import date
from typing import Literal

import numpy as np

from qa.models.embedding import Embedder
from qa.store import Filters, Snapshot, Store
from qa.types import Passage

__all__ = ["Filters", "Mode", "Retriever"]

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
_CANDIDATES = 50
QUESTION_CACHE = 1024  # question vectors kept (1.5 KB each)


class Retriever:
    """Searches a :class:`Store`; see the module docstring for the scoring."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        mode: Mode = "hybrid",
        rrf_k: int = 60,
        recency_half_life_days: float = 30.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.rrf_k = rrf_k
        self.half_life = recency_half_life_days
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the BM25 index for the current snapshot now rather than on the first question."""
        if self.mode != "dense":
            self.store.keywords(self.store.snapshot())

    def search(
        self, question: str, k: int = 5, *, filters: Filters | None = None, mode: Mode | None = None
    ) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first."""
        filters = filters or Filters()
        mode = mode or self.mode
        snap = self.store.snapshot()
        if snap.size == 0:
            return []
        allowed = snap.allowed(filters)
        if allowed is not None and not len(allowed):
            return []
        pool = max(_CANDIDATES, 4 * k)
        lists: list[dict[int, float]] = []
        if mode in ("dense", "hybrid"):
            lists.append(dict(self._dense(snap, question, pool, allowed)))
        if mode in ("bm25", "hybrid"):
            lists.append(dict(self._lexical(snap, question, pool, allowed)))
        if filters.as_of:
            # Recency scales each ranking's own scores before fusion: applied after RRF, whose
            # scores differ by a few percent between ranks, it would drown relevance.
            lists = [
                {i: s * self._recency(snap.published_at(i), filters.as_of) for i, s in scores.items()}
                for scores in lists
            ]
        if len(lists) == 1:
            fused = lists[0]
        else:
            fused = {}
            for scores in lists:
                for rank, chunk_id in enumerate(sorted(scores, key=lambda i: scores[i], reverse=True)):
                    fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        order = sorted(fused, key=lambda i: fused[i], reverse=True)
        records = self.store.chunks(order[: k * 2])  # a few spare in case some were deleted meanwhile
        passages = []
        for chunk_id in order:
            record = records.get(chunk_id)
            if record is None:
                continue
            passages.append(
                Passage(
                    chunk_id=chunk_id,
                    doc_id=record.doc_id,
                    title=record.title,
                    source=record.source,
                    published_at=record.published_at,
                    start=record.start,
                    end=record.end,
                    text=record.text,
                    score=round(float(fused[chunk_id]), 6),
                )
            )
            if len(passages) == k:
                break
        return passages

    def _dense(
        self, snap: Snapshot, question: str, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        return snap.dense(self._question_vector(question), pool, allowed)

    def _lexical(
        self, snap: Snapshot, question: str, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        return self.store.keywords(snap).search(question, pool, allowed)

    def _question_vector(self, question: str) -> np.ndarray:
        """The question's vector, from a small LRU: a repeated question skips the encoder."""
        with self._vectors_lock:
            vector = self._vectors.get(question)
            if vector is not None:
                self._vectors.move_to_end(question)
                return vector
        vector = self.embedder.embed([question])
        with self._vectors_lock:
            self._vectors[question] = vector
            while len(self._vectors) > QUESTION_CACHE:
                self._vectors.popitem(last=False)
        return vector

    def _recency(self, published_at: str | None, as_of: str) -> float:
        if not published_at:
            return 0.75
        try:
            age = (date.fromisoformat(as_of) - date.fromisoformat(published_at)).days
        except ValueError:
            return 0.75
        return 0.5 + 0.5 * 2.0 ** (-max(age, 0) / self.half_life)
