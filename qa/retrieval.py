"""Question -> scored Passages: dense (FAISS), BM25 (bm25s), or both fused with RRF.

Filters (source, published_at range) and an as-of date apply to every mode.
With an as-of date, articles published after it are excluded and each ranking's
scores (cosine, BM25) are scaled by a recency factor
``0.5 + 0.5 * 2**(-age_days / half_life)`` before fusion, so an article from the
as-of week outranks an otherwise equal one from a year before, but a strong
older match still beats a weak recent one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from qa.embedding import Embedder
from qa.index import ChunkIndex, Snapshot
from qa.types import Passage

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
_CANDIDATES = 50


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


class _BM25:
    """A bm25s index over one snapshot's chunks, in the snapshot's id order."""

    def __init__(self, ids: np.ndarray, texts: list[str]) -> None:
        import bm25s
        import Stemmer

        # bm25s sets its own logger to DEBUG at import; its index-building chatter is noise here.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.ids = ids
        self.position = {int(i): p for p, i in enumerate(ids.tolist())}
        self.retriever = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
            self.retriever.index(tokens, show_progress=False)

    def scores(self, question: str) -> np.ndarray:
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        tokens = self._bm25s.tokenize(
            [question], stopwords="en", stemmer=self.stemmer, show_progress=False, return_ids=False
        )[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)


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
        self._bm25_lock = threading.Lock()

    def _bm25(self, snap: Snapshot) -> _BM25:
        cached = snap.cache.get("bm25")
        if cached is None:
            with self._bm25_lock:
                cached = snap.cache.get("bm25")
                if cached is None:
                    ids, texts = self.index.all_chunk_texts(snap)
                    cached = _BM25(ids, texts)
                    snap.cache["bm25"] = cached
        assert isinstance(cached, _BM25)
        return cached

    def warm_up(self) -> None:
        """Build the BM25 index for the current snapshot now rather than on the first question."""
        if self.mode != "dense":
            self._bm25(self.index.snapshot())

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
        if not filters.active():
            return None
        return np.array(
            [i for i, meta in snap.chunks.items() if filters.allows(meta.source, meta.published_at)],
            dtype=np.int64,
        )

    def _dense(
        self, snap: Snapshot, question: str, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        import faiss

        vector = self.embedder.embed([question])
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed)) if allowed is not None else None
        scores, ids = snap.faiss_index.search(vector, min(pool, snap.size), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _lexical(
        self, snap: Snapshot, question: str, pool: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        bm25 = self._bm25(snap)
        scores = bm25.scores(question)
        if not len(scores):
            return []
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            positions = [bm25.position[int(i)] for i in allowed if int(i) in bm25.position]
            mask[positions] = True
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores)[:pool]
        return [(int(bm25.ids[p]), float(scores[p])) for p in top if scores[p] > 0]

    def _recency(self, published_at: str | None, as_of: str) -> float:
        if not published_at:
            return 0.75
        try:
            age = (date.fromisoformat(as_of) - date.fromisoformat(published_at)).days
        except ValueError:
            return 0.75
        return 0.5 + 0.5 * 2.0 ** (-max(age, 0) / self.half_life)
