"""The vector index: FAISS base files on disk and the immutable snapshots readers search.

``vectors.<gen>.faiss`` in the index directory is a *base* written by the last
compaction (at generation ``<gen>``); it may lag the record store
(:mod:`qa.store.records`).  A snapshot is the base plus what it lacks: chunks
the store has and the base lacks are read back as a delta, base chunks the
store lost become tombstones (see :mod:`qa.store.segments`), so a missing, stale
or corrupt file costs a rebuild from the stored vectors (no re-embedding),
never a wrong answer.  Chunk ids are never reused, so a reader holding an
older snapshot can never be handed another document's chunk.

A write derives the next snapshot from the current one (:func:`advance`),
touching only the changed chunks; a compaction (:func:`compacted`) folds the
delta and tombstones into a new base and saves it aside, then renames it.
Locks and scheduling are :class:`qa.store.store.Store`'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from qa.store.filters import Filters, allowed_ids
from qa.store.keywords import KeywordFiles, Keywords
from qa.store.records import ChunkMeta, Records, Written
from qa.store.segments import ANN_INDEX, AnnIndex, LayeredMap, Vectors, build_base

log = logging.getLogger(__name__)

# A temporary FAISS file older than this is a dead writer's leftover, not one being written.
STALE_TMP_S = 60.0


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of one generation: the vectors, the chunk metadata, and its base file.

    ``vectors`` and ``chunks`` share their large base with the snapshots derived
    from this one; ``cache`` holds the keyword index once built, and derived data
    readers compute on demand.
    """

    generation: int
    vectors: Vectors
    chunks: LayeredMap[ChunkMeta]
    base_file: str | None = None
    cache: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        return len(self.chunks)

    @property
    def ids(self) -> np.ndarray:
        """The live chunk ids, ascending."""
        cached = self.cache.get("ids")
        if cached is None:
            cached = np.sort(np.fromiter(self.chunks, dtype=np.int64, count=len(self.chunks)))
            self.cache["ids"] = cached
        assert isinstance(cached, np.ndarray)
        return cached

    @property
    def faiss_index(self) -> faiss.Index:
        """All live vectors merged into one flat ``IndexIDMap2`` (a copy: for checks and tools)."""
        cached = self.cache.get("merged")
        if cached is None:
            ids, vectors = self.vectors.live()
            cached = build_base(ids, vectors, self.vectors.dimension, 0)
            self.cache["merged"] = cached
        return cached

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """Live ids passing ``filters`` (None: no filter)."""
        return allowed_ids(self.chunks, filters)

    def dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest live chunks to ``vector`` by inner product, within ``allowed`` if given."""
        return self.vectors.search(vector, min(k, self.size), allowed)

    def keywords(
        self, texts: Callable[[np.ndarray], tuple[np.ndarray, list[str]]], files: KeywordFiles | None = None
    ) -> Keywords:
        """The BM25 index on first use: the saved base brought up to date, else built from ``texts(ids)``.

        A fresh build is saved to ``files`` so the next open reads it; later snapshots extend it.
        """
        cached = self.cache.get("keywords")
        if cached is None:
            saved = files.newest(self.generation) if files is not None else None
            if saved is not None:
                cached = Keywords.restore(saved, self.ids, texts)
            else:
                cached = Keywords.build(*texts(self.ids))
                if files is not None:
                    files.save(cached.base, self.generation)
            self.cache["keywords"] = cached
        assert isinstance(cached, Keywords)
        return cached

    def published_at(self, chunk_id: int) -> str | None:
        return self.chunks[chunk_id].published_at


class BaseFiles:
    """The ``vectors.<gen>.faiss`` files of one directory: read the newest, save atomically, sweep."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.dir = directory
        self.dimension = dimension

    def _paths(self) -> list[Path]:
        """Base files, newest generation first."""
        found = []
        for path in self.dir.glob("vectors.*.faiss"):
            with contextlib.suppress(ValueError, IndexError):
                found.append((int(path.name.split(".")[1]), path))
        return [p for _, p in sorted(found, reverse=True)]

    def newest(self, current: Snapshot | None) -> tuple[faiss.Index, str] | None:
        """The newest readable base file (reused from ``current`` if it is already loaded)."""
        for path in self._paths():
            if current is not None and current.base_file == path.name:
                return current.vectors.base, path.name
            try:
                index = faiss.read_index(str(path))
            except RuntimeError:
                log.warning("FAISS file %s is unreadable; using an older one or the store", path.name)
                continue
            if index.d != self.dimension or not isinstance(index, faiss.IndexIDMap2):
                log.warning("FAISS file %s does not match this index; ignoring it", path.name)
                continue
            return index, path.name
        return None

    def save(self, index: faiss.Index, generation: int) -> str:
        """Write aside, fsync, rename: a reader or a crash never sees half a file; returns its name."""
        target = self.dir / f"vectors.{generation}.faiss"
        fd, tmp = tempfile.mkstemp(prefix=".vectors.", suffix=".tmp", dir=self.dir)
        os.close(fd)
        try:
            faiss.write_index(index, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.dir, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)
        return target.name

    def sweep(self, keep: str | None) -> None:
        """Remove every base file but ``keep`` (call with the directory's write lock held)."""
        for old in self.dir.glob("vectors.*.faiss"):
            if old.name != keep:
                with contextlib.suppress(OSError):
                    old.unlink()

    def remove_stale_temporaries(self) -> None:
        """Delete ``.vectors.*.tmp`` files untouched for a minute (a killed writer's; each the size of the index).

        Call with the write lock held: a live writer's temporary file is in use, and
        a reader may be rewriting a damaged FAISS file without the lock (hence the minute).
        """
        cutoff = time.time() - STALE_TMP_S
        for tmp in self.dir.glob(".vectors.*.tmp"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    log.info("removed %s, left by an interrupted write", tmp.name)


def load_snapshot(
    records: Records, files: BaseFiles, current: Snapshot | None, use_base: bool = True
) -> Snapshot:
    """Base file + the store's chunks: what the base lacks is read back as a delta (all, without a base)."""
    dim = files.dimension
    found = files.newest(current) if use_base else None
    base, base_file = (
        found if found is not None else (build_base(np.zeros(0, np.int64), np.zeros((0, dim)), dim, 0), None)
    )
    vectors = Vectors.from_base(base, dim)
    live = records.live(vectors.base_ids, dim)
    ids = np.fromiter(live.chunks.keys(), dtype=np.int64, count=len(live.chunks))
    tombstones = frozenset(np.setdiff1d(vectors.base_ids, ids).tolist())
    vectors = Vectors(base, vectors.base_ids, live.missing, live.vectors, tombstones)
    return Snapshot(live.generation, vectors, LayeredMap(live.chunks), base_file)


def advance(old: Snapshot, written: Written) -> Snapshot:
    """The committed generation's snapshot, derived from ``old`` by touching only the changed chunks.

    The delta, the tombstones and the overlay of metadata are new; the base (FAISS
    index, BM25 segment, metadata dict) is shared.
    """
    added = written.added
    dim = old.vectors.dimension
    add_ids = np.fromiter(added, dtype=np.int64, count=len(added))
    add_vectors = np.frombuffer(b"".join(v[0] for v in added.values()), dtype=np.float32).reshape(-1, dim)
    put = {**written.relabel, **{i: v[1] for i, v in added.items()}}
    cache: dict[str, object] = {}
    keywords = old.cache.get("keywords")
    if isinstance(keywords, Keywords):
        cache["keywords"] = keywords.evolve({i: v[2] for i, v in added.items()}, written.dropped)
    return Snapshot(
        written.generation,
        old.vectors.evolve(add_ids, add_vectors, written.dropped),
        old.chunks.evolve(put, written.dropped),
        old.base_file,
        cache,
    )


def compacted(
    snap: Snapshot,
    files: BaseFiles,
    ann_threshold: int,
    float16: bool = False,
    keyword_files: KeywordFiles | None = None,
    kind: AnnIndex = ANN_INDEX,
) -> Snapshot:
    """``snap`` with its delta and tombstones folded into new bases (FAISS: float32 or float16), saved."""
    base = snap.vectors.rebuilt(ann_threshold, float16, kind)  # block by block: no full copy beside the index
    name = files.save(base, snap.generation)
    cache: dict[str, object] = {}
    keywords = snap.cache.get("keywords")
    if isinstance(keywords, Keywords):
        cache["keywords"] = merged = keywords.compacted()
        if keyword_files is not None:
            keyword_files.save(merged.base, snap.generation)
    return Snapshot(
        snap.generation, Vectors.from_base(base, files.dimension), snap.chunks.flatten(), name, cache
    )
