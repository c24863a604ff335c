"""Keyword search: BM25 (bm25s's Lucene variant) over segments, like the vectors in :mod:`qa.store.segments`.

A large base segment, built once and shared by every snapshot derived from it,
less tombstones, plus a small delta segment rebuilt on each write; a compaction
merges them.  Scores equal bm25s's over the live texts up to the collection
statistics, which count tombstoned chunks until the next compaction.

The base segment is saved beside the FAISS base as ``keywords.<gen>.npz``
(:class:`KeywordFiles`), so opening an index tokenizes only what the file lacks.
Like the FAISS file it is derived data, checked against the store on load: its
chunks the store lost become tombstones, the store's chunks it lacks are
tokenized into the delta, and a damaged file is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from qa.store.segments import top_k

K1 = 1.5
B = 0.75
BUILD_BLOCK = 50_000  # chunks tokenized and counted at a time (bounds the memory of a full build)

log = logging.getLogger(__name__)


_local = threading.local()  # PyStemmer's stemmers are not thread-safe: one per thread


def _stemmer() -> Any:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        # Once, not per call: setLevel clears every logger's cache (0.4 ms a question).
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def tokenize(texts: list[str]) -> list[list[str]]:
    """bm25s's English tokenizer (stopwords out, Snowball stems), as strings."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(  # type: ignore[no-any-return]
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
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
    def concat(cls, segments: list[KeywordSegment]) -> KeywordSegment:
        """All rows of ``segments`` in order, over one vocabulary (one stack, no repeated copies)."""
        vocab: dict[str, int] = {}
        parts = []
        for seg in segments:
            remap = np.array([vocab.setdefault(t, len(vocab)) for t in seg.vocab], dtype=np.int64)
            coo = seg.counts.tocoo()
            parts.append((coo.data, coo.row, remap[coo.col] if len(coo.col) else coo.col, len(seg.ids)))
        blocks = [sparse.csr_matrix((d, (r, c)), shape=(n, len(vocab))) for d, r, c, n in parts]
        csc = sparse.vstack(blocks, format="csc") if blocks else sparse.csc_matrix((0, 0), dtype=np.float32)
        return cls(
            np.concatenate([s.ids for s in segments]) if segments else np.zeros(0, np.int64),
            vocab,
            csc,
            np.concatenate([s.lengths for s in segments]) if segments else np.zeros(0, np.float32),
            np.diff(csc.indptr).astype(np.float32),
        )

    def save(self, handle: io.BufferedWriter) -> None:
        """The segment as an uncompressed ``.npz`` (no pickles): ids, lengths, CSC arrays, vocabulary."""
        np.savez(
            handle,
            ids=self.ids,
            lengths=self.lengths,
            data=self.counts.data,
            indices=self.counts.indices,
            indptr=self.counts.indptr,
            vocab=np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8),
        )

    @classmethod
    def load(cls, path: Path) -> KeywordSegment:
        """A saved segment; ``ValueError`` if the file is damaged or inconsistent."""
        try:
            with np.load(path, allow_pickle=False) as f:
                ids, lengths = f["ids"].astype(np.int64), f["lengths"].astype(np.float32)
                data, indices, indptr = f["data"], f["indices"], f["indptr"]
                text = f["vocab"].tobytes().decode("utf-8")
        except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as e:
            raise ValueError(f"unreadable keyword segment: {e}") from e
        vocab = {t: n for n, t in enumerate(text.split("\n"))} if text else {}
        if (
            len(ids) != len(lengths)
            or len(indptr) != len(vocab) + 1
            or len(data) != len(indices)
            or (len(indptr) and indptr[-1] != len(data))
            or (len(indices) and (indices.min() < 0 or indices.max() >= len(ids)))
            or len(np.unique(ids)) != len(ids)
        ):
            raise ValueError("inconsistent keyword segment")
        counts = sparse.csc_matrix((data, indices, indptr), shape=(len(ids), len(vocab)))
        return cls(ids, vocab, counts, lengths, np.diff(indptr).astype(np.float32))

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

    def column(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The rows holding ``token`` (ascending) and its counts there; None if it is not in the vocabulary."""
        col = self.vocab.get(token)
        if col is None:
            return None
        if not self.counts.has_sorted_indices:  # a file written by another scipy: sort once
            self.counts.sort_indices()
        start, end = self.counts.indptr[col], self.counts.indptr[col + 1]
        return self.counts.indices[start:end], self.counts.data[start:end]

    def norms(self, avgdl: float) -> np.ndarray:
        """Each row's ``K1 * (1 - B + B * length / avgdl)``, computed once per ``avgdl`` (it changes on writes)."""
        cached = self.__dict__.get("_norms")
        if cached is None or cached[0] != avgdl:
            cached = (avgdl, K1 * ((1 - B) + B * self.lengths / avgdl))
            object.__setattr__(self, "_norms", cached)
        return cached[1]  # type: ignore[no-any-return]

    def best(
        self,
        terms: list[tuple[str, float]],
        avgdl: float,
        k: int,
        dead: np.ndarray | None = None,
        inside: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` best rows with a positive score; ``terms``: the query's ``(token, idf)`` in order.

        Every row of every term is added up in float32, term by term in query order (the
        sums of ``out[rows] += weights`` per term, bit for bit): the weights are computed in one
        pass, with each row's length norm computed once per ``avgdl``, and summed into
        the rows by scipy's compiled sparse product (numpy's ``out[rows] +=`` was half
        the time).  The top k is then taken among the rows scoring at least the k-th
        best of every 16th row (a lower bound of the k-th best), not among all of them.
        ``dead``: rows left out (tombstones); ``inside``: a mask of the rows a filter allows.
        """
        found = [(c, idf) for t, idf in terms if (c := self.column(t)) is not None]
        if not found:
            return []
        sizes = [len(c[0]) for c, _ in found]
        rows = np.concatenate([c[0] for c, _ in found])
        weights = np.concatenate([c[1] for c, _ in found])  # the counts (a copy), made weights in place
        # idf * tf / (norm + tf) in float32, as `python float * f32` computes it, with two arrays of
        # the postings' size rather than five (at 1M chunks a news question has ~1M postings).
        norm = self.norms(avgdl).take(rows)
        norm += weights
        start = 0
        for size, (_, idf) in zip(sizes, found, strict=True):
            weights[start : start + size] *= np.float32(idf)
            start += size
        np.divide(weights, norm, out=weights)
        indptr = np.concatenate([[0], np.cumsum(sizes)])
        by_term = sparse.csc_matrix((weights, rows, indptr), shape=(len(self.ids), len(found)))
        scores = by_term @ np.ones(len(found), dtype=np.float32)  # column by column: query order
        if dead is not None:
            scores[dead] = 0
        if inside is not None:
            scores[~inside] = 0
        rows = np.flatnonzero(scores >= max(_kth(scores[::16], k), np.finfo(np.float32).tiny))
        return [(i, s) for i, s in top_k(self.ids[rows], scores[rows], k) if s > 0]


def _kth(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (0 if fewer)."""
    return float(np.partition(values, len(values) - k)[len(values) - k]) if len(values) >= k else 0.0


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
        """One base segment of ``texts``, tokenized and counted ``BUILD_BLOCK`` chunks at a time."""
        blocks = [
            KeywordSegment.build(ids[i : i + BUILD_BLOCK], tokenize(texts[i : i + BUILD_BLOCK]))
            for i in range(0, len(ids), BUILD_BLOCK)
        ]
        if len(blocks) <= 1:
            base = blocks[0] if blocks else KeywordSegment.build(np.zeros(0, np.int64), [])
        else:
            base = KeywordSegment.concat(blocks)
        return cls(base, KeywordSegment.build(np.zeros(0, np.int64), []), {})

    @classmethod
    def restore(
        cls,
        base: KeywordSegment,
        live: np.ndarray,
        texts: Callable[[np.ndarray], tuple[np.ndarray, list[str]]],
    ) -> Keywords:
        """A saved ``base`` brought up to the ``live`` ids: what it lacks tokenized, the rest tombstoned."""
        dead = frozenset(np.setdiff1d(base.ids, live).tolist())
        missing_ids, missing_texts = texts(np.setdiff1d(live, base.ids))
        tokens = dict(zip(missing_ids.tolist(), tokenize(missing_texts), strict=True))
        ids = np.fromiter(tokens, dtype=np.int64, count=len(tokens))
        return cls(base, KeywordSegment.build(ids, list(tokens.values())), tokens, dead)

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
        terms = []
        for token in query:  # every occurrence counts, in query order
            df = sum(s.term_df(token) for s in segments)
            if df:
                terms.append((token, float(np.log(1 + (total - df + 0.5) / (df + 0.5)))))
        found: list[tuple[int, float]] = []
        for seg in segments:
            dead = self._dead_rows() if seg is self.base and self.tombstones else None
            inside = np.isin(seg.ids, allowed) if allowed is not None else None
            found += seg.best(terms, avgdl, k, dead, inside)
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


class KeywordFiles:
    """The ``keywords.<gen>.npz`` base segments of one directory: read the newest, save atomically, sweep."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def _paths(self) -> Iterator[Path]:
        found = []
        for path in self.dir.glob("keywords.*.npz"):
            with contextlib.suppress(ValueError, IndexError):
                found.append((int(path.name.split(".")[1]), path))
        return (p for _, p in sorted(found, reverse=True))

    def newest(self, generation: int) -> KeywordSegment | None:
        """The newest readable base segment saved at or before ``generation`` (None: none).

        A file from a later generation than the store's belongs to another store (a
        deleted and re-created ``store.sqlite``, whose chunk ids start over): ignored.
        """
        for path in self._paths():
            if int(path.name.split(".")[1]) > generation:
                continue
            try:
                return KeywordSegment.load(path)
            except ValueError as e:
                log.warning("keyword file %s is unusable (%s); using an older one or the store", path.name, e)
        return None

    def save(self, segment: KeywordSegment, generation: int) -> None:
        """Write aside, fsync, rename: a reader or a crash never sees half a file."""
        target = self.dir / f"keywords.{generation}.npz"
        fd, tmp = tempfile.mkstemp(prefix=".keywords.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                segment.save(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def sweep(self) -> None:
        """Remove all but the newest base segment, and a killed writer's temporaries (write lock held)."""
        for n, path in enumerate(self._paths()):
            if n:
                with contextlib.suppress(OSError):
                    path.unlink()
        for tmp in self.dir.glob(".keywords.*.tmp"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < time.time() - 60:
                    tmp.unlink()
