"""Segmented search structures, so a write costs what it changes: chunk metadata and vectors.

A snapshot's vectors, keywords (:mod:`qa.store.keywords`) and chunk metadata each
come in two layers:

* a large **base**, built once (at open, or by a compaction) and never mutated,
  shared by every snapshot derived from it;
* a small **delta** (chunks added since the base was built) and a set of
  **tombstones** (base chunks deleted since), both rebuilt on each write from the
  previous snapshot's, so one write copies only what changed since the last compaction.

Readers search ``base - tombstones`` and ``delta`` and merge the two rankings; a
writer builds the next snapshot beside the current one and swaps it in.
Compaction folds the delta and tombstones into a new base (in the background,
see :meth:`qa.store.store.Store.compact`).  Chunk ids are never reused and a chunk's
vector never changes, so any base is correct given the right tombstones and delta.

Past ``ann_threshold`` live chunks a compaction builds an approximate base, IVF
(the default, ``QA_ANN_INDEX``: k-means over a bounded sample, so the build time is
bounded) or HNSW; recall@10 against exact is reported by ``scripts/bench_scale.py``.
Below it, a flat (exact) one.  Filtered searches are always exact: they score the
allowed rows of the base's own storage (an IVF base decodes them through its direct map).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import faiss
import numpy as np

from qa.store.layered import LayeredMap as LayeredMap  # re-exported: the chunk metadata's layers

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128

AnnIndex = Literal["ivf", "hnsw"]
ANN_INDEX: AnnIndex = "ivf"
# A filter keeping more than 1/SELECTOR_SHARE of a flat base's rows is searched by FAISS with an id
# selector (a scan of every row, no copy); a narrower one scores its own rows only.
SELECTOR_SHARE = 8
TIE_SLACK = 16
IVF_NPROBE = 32  # inverted lists scanned per query (scripts/bench_scale.py measures recall by nprobe)
IVF_TRAIN_PER_LIST = 64  # k-means sample: this many vectors per list...
IVF_TRAIN_MAX = 256_000  # ... and at most this many in all (bounds the build time)


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: 4 * sqrt(n), rounded (at most ``n``: k-means needs a point per list)."""
    return max(1, min(n, round(4 * math.sqrt(n))))


# -- vectors -------------------------------------------------------------------------------


def _inner(index: faiss.Index) -> faiss.Index:
    """The index holding the vectors: flat, float16 scalar quantizer (also inside HNSW), or IVF."""
    inner = faiss.downcast_index(index.index if isinstance(index, faiss.IndexIDMap) else index)
    if isinstance(inner, faiss.IndexHNSW):
        inner = faiss.downcast_index(inner.storage)
    return inner


def base_kind(index: faiss.Index) -> str:
    """``flat`` (exact), ``hnsw`` or ``ivf``."""
    inner = faiss.downcast_index(index.index if isinstance(index, faiss.IndexIDMap) else index)
    kinds = {faiss.IndexHNSW: "hnsw", faiss.IndexIVF: "ivf"}
    return next((name for cls, name in kinds.items() if isinstance(inner, cls)), "flat")


def _storage(index: faiss.Index) -> np.ndarray:
    """A zero-copy ``(n, d)`` view of a flat or HNSW base's vectors in insertion order (float32, or float16)."""
    inner = _inner(index)
    n, d = inner.ntotal, inner.d
    if isinstance(inner, faiss.IndexScalarQuantizer):
        if n == 0:
            return np.zeros((0, d), dtype=np.float16)
        return faiss.rev_swig_ptr(inner.codes.data(), n * d * 2).view(np.float16).reshape(n, d)
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return faiss.rev_swig_ptr(inner.get_xb(), n * d).reshape(n, d)


def _rows(index: faiss.Index, rows: np.ndarray | slice) -> np.ndarray:
    """Float32 vectors of a base's rows (insertion positions): a view's copy, or IVF's decoded codes."""
    inner = _inner(index)
    if isinstance(inner, faiss.IndexIVF):
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(inner.ntotal))
        if not len(rows):
            return np.zeros((0, inner.d), np.float32)
        return inner.reconstruct_batch(np.ascontiguousarray(rows, dtype=np.int64))
    return np.array(_storage(index)[rows], dtype=np.float32)


def is_float16(index: faiss.Index) -> bool:
    """True if ``index`` stores its vectors as float16."""
    return isinstance(_inner(index), faiss.IndexScalarQuantizer | faiss.IndexIVFScalarQuantizer)


def empty_base(
    dimension: int, approximate: bool, float16: bool = False, kind: AnnIndex = ANN_INDEX, n: int = 0
) -> faiss.Index:
    """An empty ``IndexIDMap2`` over a flat (exact) or an HNSW / IVF (approximate) inner-product index.

    ``float16`` stores the vectors at half the size (FAISS's fp16 scalar quantizer: exact
    inner products of the rounded vectors, decoded on the fly).  An IVF base has
    ``ivf_lists(n)`` lists and is trained (``_train``) before vectors are added.
    """
    fp16, ip = faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    if approximate and kind == "ivf":
        quantizer = faiss.IndexFlatIP(dimension)
        nlist = ivf_lists(n)
        inner = (
            faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, fp16, ip)
            if float16
            else faiss.IndexIVFFlat(quantizer, dimension, nlist, ip)
        )
        inner.nprobe = IVF_NPROBE
    elif approximate:
        inner = (
            faiss.IndexHNSWSQ(dimension, fp16, HNSW_M, ip)
            if float16
            else faiss.IndexHNSWFlat(dimension, HNSW_M, ip)
        )
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexScalarQuantizer(dimension, fp16, ip) if float16 else faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)  # the Python wrappers keep ``inner`` (and a quantizer) alive


def _train(base: faiss.Index, sample: Callable[[int], np.ndarray]) -> None:
    """Train an IVF base's lists (k-means) on ``sample(n)``, ``n`` bounded; other kinds need none."""
    inner = _inner(base)
    if isinstance(inner, faiss.IndexIVF):
        inner.cp.seed = 1234
        n = min(IVF_TRAIN_PER_LIST * inner.nlist, IVF_TRAIN_MAX)
        inner.train(np.ascontiguousarray(sample(n), dtype=np.float32))


def _finish(base: faiss.Index) -> faiss.Index:
    """An IVF base's direct map (row -> list position: exact filters and ``reconstruct``); returns ``base``."""
    inner = _inner(base)
    if isinstance(inner, faiss.IndexIVF):
        inner.make_direct_map(True)
    return base


def build_base(
    ids: np.ndarray,
    vectors: np.ndarray,
    dimension: int,
    ann_threshold: int,
    float16: bool = False,
    kind: AnnIndex = ANN_INDEX,
) -> faiss.Index:
    """A flat index, or an approximate one (``kind``) past ``ann_threshold`` vectors, over ``ids``."""
    index = empty_base(dimension, bool(ann_threshold) and len(ids) >= ann_threshold, float16, kind, len(ids))
    rng = np.random.default_rng(0)
    _train(index, lambda n: vectors[np.sort(rng.choice(len(ids), min(len(ids), n), replace=False))])
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return _finish(index)


def top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best ``(id, score)`` pairs, best first, ties in input order (also at the k-th place)."""
    if not len(scores) or k <= 0:
        return []
    k = min(k, len(scores))
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    part = np.flatnonzero(scores >= kth)  # every tie of the k-th, in input order
    part = part[np.argsort(-scores[part], kind="stable")][:k]
    return [(int(ids[p]), float(scores[p])) for p in part]


@dataclass(frozen=True)
class Vectors:
    """Base FAISS index minus tombstones, plus a small exact delta (numpy)."""

    base: faiss.Index
    base_ids: np.ndarray
    delta_ids: np.ndarray
    delta: np.ndarray
    tombstones: frozenset[int] = frozenset()
    cache: dict[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def from_base(cls, base: faiss.Index, dimension: int) -> Vectors:
        ids = faiss.vector_to_array(base.id_map).astype(np.int64) if base.ntotal else np.zeros(0, np.int64)
        return cls(base, ids, np.zeros(0, np.int64), np.zeros((0, dimension), np.float32))

    @property
    def dimension(self) -> int:
        return int(self.base.d)

    @property
    def size(self) -> int:
        return len(self.base_ids) - len(self.tombstones) + len(self.delta_ids)

    @property
    def pending(self) -> int:
        return len(self.delta_ids) + len(self.tombstones)

    @property
    def kind(self) -> str:
        """The base's kind: ``flat``, ``hnsw`` or ``ivf``."""
        return base_kind(self.base)

    @property
    def approximate(self) -> bool:
        return self.kind != "flat"

    def _tomb_array(self) -> np.ndarray:
        cached = self.cache.get("tombs")
        if cached is None:
            cached = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
            self.cache["tombs"] = cached
        assert isinstance(cached, np.ndarray)
        return cached

    def live_ids(self) -> np.ndarray:
        """Every live id: the base's less its tombstones, then the delta's."""
        base = self.base_ids
        if self.tombstones:
            base = base[~np.isin(base, self._tomb_array())]
        return np.concatenate([base, self.delta_ids])

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids and vectors of every live chunk (a copy: compaction and checks only)."""
        keep = ~np.isin(self.base_ids, self._tomb_array()) if self.tombstones else slice(None)
        rows = _rows(self.base, np.flatnonzero(keep) if self.tombstones else slice(None))
        return (
            np.concatenate([self.base_ids[keep], self.delta_ids]),
            np.vstack([rows, self.delta]).astype(np.float32, copy=False) if len(self.delta) else rows,
        )

    def live_blocks(self, block: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``live()`` in blocks of at most ``block`` rows: a copy of one block at a time."""
        tombs = self._tomb_array() if self.tombstones else None
        for start in range(0, len(self.base_ids), block):
            ids = self.base_ids[start : start + block]
            rows = _rows(self.base, slice(start, start + block))
            if tombs is not None:
                keep = ~np.isin(ids, tombs)
                ids, rows = ids[keep], rows[keep]
            yield ids, rows
        if len(self.delta_ids):
            yield self.delta_ids, self.delta

    @property
    def float16(self) -> bool:
        return is_float16(self.base)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` live vectors drawn at random (seeded), block by block."""
        picks = np.sort(np.random.default_rng(seed).choice(self.size, min(n, self.size), replace=False))
        out, offset = [np.zeros((0, self.dimension), np.float32)], 0
        for ids, vectors in self.live_blocks():
            lo, hi = np.searchsorted(picks, [offset, offset + len(ids)])
            out.append(vectors[picks[lo:hi] - offset])
            offset += len(ids)
        return np.vstack(out)

    def rebuilt(self, ann_threshold: int, float16: bool = False, kind: AnnIndex = ANN_INDEX) -> faiss.Index:
        """A new base of every live vector (what ``build_base(*live())`` gives, without the full copy)."""
        approximate = bool(ann_threshold) and self.size >= ann_threshold
        base = empty_base(self.dimension, approximate, float16, kind, self.size)
        _train(base, self.sample)
        for ids, vectors in self.live_blocks():
            if len(ids):
                base.add_with_ids(vectors, ids.astype(np.int64))
        return _finish(base)

    def vector(self, chunk_id: int) -> np.ndarray:
        """One live chunk's vector."""
        hit = np.flatnonzero(self.delta_ids == chunk_id)
        if len(hit):
            return self.delta[hit[0]]
        if chunk_id in self.tombstones:
            raise KeyError(chunk_id)
        return self.base.reconstruct(int(chunk_id))

    def evolve(self, add_ids: np.ndarray, add_vectors: np.ndarray, drop: Iterable[int]) -> Vectors:
        """The next generation's vectors: ``drop`` removed, ``add`` appended; copies the delta only."""
        drop_set = set(int(i) for i in drop)
        keep = ~np.isin(self.delta_ids, np.fromiter(drop_set, np.int64, len(drop_set)))
        delta_ids = np.concatenate([self.delta_ids[keep], add_ids.astype(np.int64)])
        delta = np.vstack([self.delta[keep], add_vectors.reshape(-1, self.dimension)]).astype(np.float32)
        in_base = drop_set - set(self.delta_ids.tolist())
        return Vectors(self.base, self.base_ids, delta_ids, delta, self.tombstones | frozenset(in_base))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest live ids by inner product, restricted to ``allowed`` if given."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        found: list[tuple[int, float]] = []
        if len(self.base_ids):
            if (
                allowed is not None
                and self.kind == "flat"
                and len(allowed) * SELECTOR_SHARE > len(self.base_ids)
            ):
                found += self._search_flat_within(query, k, allowed)
            elif allowed is not None:
                # Filters are exact: an HNSW graph or IVF lists filtered down to a few rows lose recall.
                rows = np.flatnonzero(np.isin(self.base_ids, allowed))
                if self.tombstones:
                    rows = rows[~np.isin(self.base_ids[rows], self._tomb_array())]
                scores = _rows(self.base, rows) @ query[0]
                found += top_k(self.base_ids[rows], scores, k)
            else:
                found += self._search_base(query, k)
        if len(self.delta_ids):
            ids, vectors = self.delta_ids, self.delta
            if allowed is not None:
                mask = np.isin(ids, allowed)
                ids, vectors = ids[mask], vectors[mask]
            found += top_k(ids, vectors @ query[0], k)
        found.sort(key=lambda pair: -pair[1])
        return found[:k]

    def _search_flat_within(self, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """A flat base searched by FAISS for ids in ``allowed`` only (exact; no float32 copy of the rows).

        A filter that keeps most of the archive (an ``as_of`` date) would otherwise copy and
        widen every kept row per question: 2.8 ms against 0.4 ms at 7k float16 chunks.
        """
        ids = np.asarray(allowed, dtype=np.int64)
        if self.tombstones:
            ids = ids[~np.isin(ids, self._tomb_array())]
        if not len(ids):
            return []
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBatch(ids)
        # A few more than k, so copies of one text tied at the k-th place are all seen and ranked in
        # id order, as the row-scoring path ranks them.
        scores, found = self.base.search(query, min(k + TIE_SLACK, len(ids)), params=params)
        pairs = [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]
        return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))[:k]

    def _search_base(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self.base_ids) - len(self.tombstones))
        if k <= 0:
            return []
        selector = None
        if self.tombstones:
            # A fresh selector per search: FAISS rewrites the params' selector while searching.
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(self._tomb_array()))
        params: faiss.SearchParameters | None = None
        kind = self.kind
        if kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(HNSW_EF_SEARCH, k)
        elif kind == "ivf":
            params = faiss.SearchParametersIVF()
            params.nprobe = IVF_NPROBE  # read at each search: the bench sweeps it
        elif selector is not None:
            params = faiss.SearchParameters()
        if params is not None and selector is not None:
            params.sel = selector
        scores, ids = self.base.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
