"""Keyword search: BM25 (bm25s's Lucene variant) over segments, like the vectors in :mod:`qa.store.segments`.

A large base segment, built once and shared by every snapshot derived from it,
less tombstones, plus a small delta segment rebuilt on each write; a compaction
merges them.  Scores equal bm25s's over the live texts up to the collection
statistics, which count tombstoned chunks until the next compaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from qa.store.segments import top_k

K1 = 1.5
B = 0.75


def tokenize(texts: list[str]) -> list[list[str]]:
    """bm25s's English tokenizer (stopwords out, Snowball stems), as strings."""
    import bm25s
    import Stemmer

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if not texts:
        return []
    return bm25s.tokenize(  # type: ignore[no-any-return]
        texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False, show_progress=False
    )


@dataclass(frozen=True)
class KeywordSegment:
    """Term counts of some chunks: a CSC matrix (chunk x term), the vocabulary, chunk lengths."""

    ids: np.ndarray
    vocab: dict[str, int]
    counts: sparse.csc_matrix
    lengths: np.ndarray
    df: np.ndarray

    @classmethod
    def build(cls, ids: np.ndarray, tokens: list[list[str]]) -> KeywordSegment:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for row, doc in enumerate(tokens):
            for token in doc:
                rows.append(row)
                cols.append(vocab.setdefault(token, len(vocab)))
        counts = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(tokens), len(vocab))
        )
        counts.sum_duplicates()
        csc = counts.tocsc()
        return cls(
            np.asarray(ids, dtype=np.int64),
            vocab,
            csc,
            np.array([len(doc) for doc in tokens], dtype=np.float32),
            np.diff(csc.indptr).astype(np.float32),
        )

    @classmethod
    def merge(cls, first: KeywordSegment, keep: np.ndarray, second: KeywordSegment) -> KeywordSegment:
        """``first``'s rows where ``keep``, then all of ``second``'s, over a merged vocabulary."""
        vocab = dict(first.vocab)
        remap = np.array([vocab.setdefault(t, len(vocab)) for t in second.vocab], dtype=np.int64)
        a = first.counts.tocsr()[keep]
        a = sparse.csr_matrix((a.data, a.indices, a.indptr), shape=(a.shape[0], len(vocab)))
        b = second.counts.tocoo()
        b = sparse.csr_matrix(
            (b.data, (b.row, remap[b.col] if len(b.col) else b.col)), shape=(b.shape[0], len(vocab))
        )
        csc = sparse.vstack([a, b], format="csc")
        return cls(
            np.concatenate([first.ids[keep], second.ids]),
            vocab,
            csc,
            np.concatenate([first.lengths[keep], second.lengths]),
            np.diff(csc.indptr).astype(np.float32),
        )

    @property
    def total_length(self) -> float:
        """Tokens in the segment, summed once (a query needs it, the base never changes)."""
        cached = self.__dict__.get("_total_length")
        if cached is None:
            cached = float(self.lengths.sum())
            object.__setattr__(self, "_total_length", cached)
        return cached

    def term_df(self, token: str) -> float:
        col = self.vocab.get(token)
        return 0.0 if col is None else float(self.df[col])

    def add_scores(self, out: np.ndarray, token: str, idf: float, avgdl: float) -> None:
        col = self.vocab.get(token)
        if col is None:
            return
        start, end = self.counts.indptr[col], self.counts.indptr[col + 1]
        rows = self.counts.indices[start:end]
        tf = self.counts.data[start:end]
        out[rows] += idf * tf / (K1 * ((1 - B) + B * self.lengths[rows] / avgdl) + tf)


@dataclass(frozen=True)
class Keywords:
    """BM25 (bm25s's Lucene variant) over a base segment less tombstones, plus a delta segment.

    Collection statistics (N, average length, document frequencies) count
    tombstoned chunks until the next compaction, as Lucene does with deleted
    documents: scores drift slightly, rankings barely.
    """

    base: KeywordSegment
    delta: KeywordSegment
    delta_tokens: dict[int, list[str]]
    tombstones: frozenset[int] = frozenset()
    cache: dict[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str]) -> Keywords:
        return cls(
            KeywordSegment.build(ids, tokenize(texts)), KeywordSegment.build(np.zeros(0, np.int64), []), {}
        )

    def evolve(self, add: Mapping[int, str], drop: Iterable[int]) -> Keywords:
        """Tokenize only the added texts; rebuild the (small) delta segment."""
        tokens = dict(self.delta_tokens)
        dropped = set(drop)
        for chunk_id in dropped:
            tokens.pop(chunk_id, None)
        tokens.update(zip(add, tokenize(list(add.values())), strict=True))
        in_base = {i for i in dropped if i not in self.delta_tokens}
        ids = np.fromiter(tokens, dtype=np.int64, count=len(tokens))
        return Keywords(
            self.base, KeywordSegment.build(ids, list(tokens.values())), tokens, self.tombstones | in_base
        )

    def compacted(self) -> Keywords:
        keep = ~np.isin(self.base.ids, np.fromiter(self.tombstones, np.int64, len(self.tombstones)))
        merged = KeywordSegment.merge(self.base, keep, self.delta)
        return Keywords(merged, KeywordSegment.build(np.zeros(0, np.int64), []), {})

    def search(self, question: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best-scoring live ids with a positive score."""
        segments = [s for s in (self.base, self.delta) if len(s.ids)]
        total = sum(len(s.ids) for s in segments)
        if not total:
            return []
        query = tokenize([question])[0]
        if not query:
            return []
        avgdl = max(sum(s.total_length for s in segments) / total, 1e-9)
        found: list[tuple[int, float]] = []
        for seg in segments:
            scores = np.zeros(len(seg.ids), dtype=np.float32)
            for token in query:
                df = sum(s.term_df(token) for s in segments)
                if df:
                    seg.add_scores(scores, token, float(np.log(1 + (total - df + 0.5) / (df + 0.5))), avgdl)
            if seg is self.base and self.tombstones:
                scores[self._dead_rows()] = 0
            if allowed is not None:
                scores[~np.isin(seg.ids, allowed)] = 0
            found += [(i, s) for i, s in top_k(seg.ids, scores, k) if s > 0]
        found.sort(key=lambda pair: -pair[1])
        return found[:k]

    def _dead_rows(self) -> np.ndarray:
        cached = self.cache.get("dead")
        if cached is None:
            tombs = np.fromiter(self.tombstones, np.int64, len(self.tombstones))
            cached = np.flatnonzero(np.isin(self.base.ids, tombs))
            self.cache["dead"] = cached
        assert isinstance(cached, np.ndarray)
        return cached
