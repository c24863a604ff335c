"""What a search asks of a store, and the scoring every store shares: recency, RRF fusion, passages.

Retrieval (:mod:`qa.answer.retrieve`) encodes the question and hands the store
a :class:`SearchRequest`; each store finds candidates its own way (FAISS + BM25
segments, or Milvus) and ranks them with these functions, so both score alike.
With an as-of date, each ranking's scores (cosine, BM25) are scaled by a
recency factor ``0.5 + 0.5 * 2**(-age_days / half_life)`` before fusion, so an
article from the as-of week outranks an otherwise equal one from a year before,
but a strong older match still beats a weak recent one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np

from qa.store.filters import Filters
from qa.store.records import ChunkRecord
from qa.types import Passage

Mode = Literal["hybrid", "dense", "bm25"]
CANDIDATES = 50  # each ranking's candidates: max(CANDIDATES, 4 * k)


@dataclass(frozen=True)
class SearchRequest:
    """One search: the question (for BM25), its vector (for dense; None in bm25 mode), k, mode, filters."""

    question: str
    vector: np.ndarray | Future[np.ndarray] | None  # a future: still being encoded (read it last)
    k: int = 5
    mode: Mode = "hybrid"
    filters: Filters = field(default_factory=Filters)
    rrf_k: int = 60
    half_life_days: float = 30.0

    def question_vector(self) -> np.ndarray:
        """The question's vector, waiting for it if it is still being encoded (beside BM25)."""
        if isinstance(self.vector, Future):
            return self.vector.result()
        assert self.vector is not None, "a dense search needs the question's vector"
        return self.vector

    @property
    def pool(self) -> int:
        return max(CANDIDATES, 4 * self.k)

    @property
    def dense(self) -> bool:
        return self.mode in ("dense", "hybrid")

    @property
    def lexical(self) -> bool:
        return self.mode in ("bm25", "hybrid")


def recency(published_at: str | None, as_of: str, half_life_days: float) -> float:
    """The as-of recency factor of an article published at ``published_at`` (0.75 if undated)."""
    if not published_at:
        return 0.75
    try:
        age = (date.fromisoformat(as_of) - date.fromisoformat(published_at)).days
    except ValueError:
        return 0.75
    return 0.5 + 0.5 * 2.0 ** (-max(age, 0) / half_life_days)


def rank(
    request: SearchRequest, lists: list[dict[int, float]], published_at: Callable[[int], str | None]
) -> dict[int, float]:
    """Scale each ranking by recency (with an as-of date), then fuse several with RRF."""
    as_of = request.filters.as_of
    if as_of:
        # Recency scales each ranking's own scores before fusion: applied after RRF, whose
        # scores differ by a few percent between ranks, it would drown relevance.
        lists = [
            {i: s * recency(published_at(i), as_of, request.half_life_days) for i, s in scores.items()}
            for scores in lists
        ]
    if len(lists) == 1:
        return lists[0]
    fused: dict[int, float] = {}
    for scores in lists:
        for position, chunk_id in enumerate(sorted(scores, key=lambda i: scores[i], reverse=True)):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (request.rrf_k + position + 1)
    return fused


def passages(
    fused: Mapping[int, float],
    k: int,
    records: Callable[[Sequence[int]], Mapping[int, ChunkRecord]],
) -> list[Passage]:
    """The ``k`` best of ``fused`` as passages, best first (ids ``records`` no longer has are skipped)."""
    order = sorted(fused, key=lambda i: fused[i], reverse=True)
    found = records(order[: k * 2])  # a few spare in case some were deleted meanwhile
    out: list[Passage] = []
    for chunk_id in order:
        record = found.get(chunk_id)
        if record is None:
            continue
        out.append(
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
        if len(out) == k:
            break
    return out
