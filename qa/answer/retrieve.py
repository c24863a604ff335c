"""Question -> scored Passages: dense (FAISS), BM25 (bm25s), or both fused with RRF.

Filters (source, published_at range) and an as-of date apply to every mode.
The vector and keyword indexes themselves live with the snapshot (:mod:`qa.store.segments`),
so a write extends them instead of rebuilding them.
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
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from qa.models.embedding import Embedder
from qa.store.index import ChunkIndex, ChunkMeta, Snapshot
from qa.types import Passage

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
_CANDIDATES = 50
QUESTION_CACHE = 1024  # question vectors kept (1.5 KB each)


def _filter_columns(base: dict[int, ChunkMeta]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, casefolded sources and publication dates ("" if none) of a base, as arrays."""
    ids = np.fromiter(base, dtype=np.int64, count=len(base))
    sources = np.array([m.source.casefold() for m in base.values()], dtype=str)
    published = np.array([m.published_at or "" for m in base.values()], dtype=str)
    return ids, sources, published


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some sources and a publication-date range (inclusive), and an as-of date."""

    sources: tuple[str, ...] = ()
    published_after: str | None = None
    published_before: str | None = None
    as_of: str | None = None

    def active(self) -> bool:
        return bool(self.sources or self.published_after or self.published_before or self.as_of)

    def allows(self, source: str, published_at: str | None) -> bool:
        if self.sources and source.casefold() not in {s.casefold() for s in self.sources}:
            return False
        if self.published_after and (published_at is None or published_at < self.published_after):
            return False
        if self.published_before and (published_at is None or published_at > self.published_before):
            return False
        # An as-of question can't be answered by an article written after it.
        return not (self.as_of and published_at is not None and published_at > self.as_of)


class Retriever:
    """Searches a ChunkIndex; see the module docstring for the scoring."""

    def __init__(
        self,
        index: ChunkIndex,
        embedder: Embedder,
        *,
        mode: Mode = "hybrid",
        rrf_k: int = 60,
        recency_half_life_days: float = 30.0,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.mode = mode
        self.rrf_k = rrf_k
        self.half_life = recency_half_life_days
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the BM25 index for the current snapshot now rather than on the first question."""
        if self.mode != "dense":
            self.index.keywords(self.index.snapshot())

    def search(
        self, question: str, k: int = 5, *, filters: Filters | None = None, mode: Mode | None = None
    ) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first."""
        filters = filters or Filters()
        mode = mode or self.mode
        snap = self.index.snapshot()
        if snap.size == 0:
            return []
        allowed = self._allowed_ids(snap, filters)
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
                {i: s * self._recency(snap.chunks[i].published_at, filters.as_of) for i, s in scores.items()}
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
        rows = self.index.chunk_rows(order[: k * 2])  # a few spare in case some were deleted meanwhile
        passages = []
        for chunk_id in order:
            row = rows.get(chunk_id)
            if row is None:
                continue
            passages.append(
                Passage(
                    chunk_id=chunk_id,
                    doc_id=row["doc_id"],
                    title=row["title"],
                    source=row["source"],
                    published_at=row["published_at"],
                    start=int(row["start"]),
                    end=int(row["end"]),
                    text=row["text"],
                    score=round(float(fused[chunk_id]), 6),
                )
            )
            if len(passages) == k:
                break
        return passages

    def _allowed_ids(self, snap: Snapshot, filters: Filters) -> np.ndarray | None:
        """Live ids passing the filters: vectorized over the base, per chunk over the small overlay."""
        if not filters.active():
            return None
        chunks = snap.chunks
        ids, sources, published = chunks.derived("filter_columns", _filter_columns)
        mask = np.ones(len(ids), dtype=bool)
        if filters.sources:
            mask &= np.isin(sources, [s.casefold() for s in filters.sources])
        # Undated chunks are stored as "": they fail a date range and pass an as-of date.
        if filters.published_after:
            mask &= (published != "") & (published >= filters.published_after)
        if filters.published_before:
            mask &= (published != "") & (published <= filters.published_before)
        if filters.as_of:
            mask &= (published == "") | (published <= filters.as_of)
        allowed = ids[mask]
        stale = chunks.removed | set(chunks.overlay)
        if stale:
            allowed = allowed[~np.isin(allowed, np.fromiter(stale, np.int64, len(stale)))]
        extra = [i for i, m in chunks.overlay.items() if filters.allows(m.source, m.published_at)]
        return np.concatenate([allowed, np.array(extra, dtype=np.int64)]) if extra else allowed

    def _dense(
        self, snap: Snapshot, question: str, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        vector = self._question_vector(question)
        return snap.vectors.search(vector, min(pool, snap.size), allowed)

    def _lexical(
        self, snap: Snapshot, question: str, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        return self.index.keywords(snap).search(question, pool, allowed)

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
