"""The store: records (SQLite) and the vector index (FAISS) behind one small interface.

Layout of the index directory::

    store.sqlite          documents, chunks (with their vectors), each chunk's sentence vectors,
                          meta (model, dimension, generation)          -> qa.store.records
    vectors.<gen>.faiss   the base FAISS index (float16 or float32, QA_VECTOR_DTYPE), written by the
                          last compaction                               -> qa.store.vectors
    keywords.<gen>.npz    the base BM25 index of the same generation, checked against SQLite on
                          open (missing chunks tokenized, deleted ones masked) -> qa.store.keywords

The store stores: it takes writes already chunked and embedded by the ingest
stages (:class:`qa.ingest.embed.PreparedWrite`) and answers reads with
dataclasses.  Readers take an immutable :class:`Snapshot`; a write derives the
next one from the current one and swaps it in: no file is written and nothing
large is copied.  When the delta and tombstones outgrow ``compact_after``
chunks (or 5% of the index), a background compaction folds them into a new
base and writes it aside, then renames it; readers keep searching the old
snapshot meanwhile.  Writers are serialized by a lock within the process and
an ``fcntl`` lock on the directory across processes (:meth:`Store.writer`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import IndexNotBuilt
from qa.ingest.chunk import embedding_text
from qa.ingest.embed import DocumentState, PreparedWrite, sentence_hash
from qa.store.check import check
from qa.store.keywords import KeywordFiles, Keywords
from qa.store.ranking import SearchRequest, passages, rank
from qa.store.records import STORE_NAME, ChunkRecord, Records, StoredDocument, Written
from qa.store.segments import ANN_INDEX, AnnIndex
from qa.store.vectors import BaseFiles, Snapshot, advance, compacted, load_snapshot
from qa.types import Passage

log = logging.getLogger(__name__)

BUILD_HINT = "qa ingest seeds/  (or any articles: qa ingest PATH...)"


class Model(Protocol):
    """The embedding model an index is pinned to (an ``Embedder`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...


def index_exists(index_dir: Path) -> bool:
    """True if ``index_dir`` holds a chunk store."""
    return (index_dir / STORE_NAME).is_file()


class Writer:
    """What a writer may do while it holds the store's write lock (see :meth:`Store.writer`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        """The stored content hash and metadata of each of ``doc_ids`` that exists."""
        return self._store.records.document_states(doc_ids)

    def chunk_vectors(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored chunk vectors (float32 bytes) by embedding-text hash."""
        return self._store.records.chunk_vectors(hashes)

    def sentence_vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored sentence vectors (float32 bytes) by sentence hash."""
        return self._store.records.sentence_vectors_by_hash(hashes)

    def write(self, prepared: PreparedWrite) -> None:
        """Commit ``prepared`` in one transaction and swap in the next snapshot (nothing to do: no write)."""
        if prepared:
            self._store._advance(self._store.records.write(prepared))


class Store:
    """Documents, chunks and vectors in ``index_dir``; safe for concurrent readers and writers.

    Parameters
    ----------
    index_dir:
        Directory of the index; created if missing when ``create`` is true, else
        opening it raises ``IndexNotBuilt``.
    model:
        The embedding model's ``name`` and ``dimension``, recorded at creation and
        checked at open: an index built with another model raises ``ModelMismatch``.
    ann_threshold:
        A compaction past this many chunks builds an approximate base; 0 = always exact.
    ann_index:
        Which approximate base: ``ivf`` (default) or ``hnsw``; an approximate base of the
        other kind found at open is rebuilt from the vectors it holds.
    compact_after:
        Fold the delta and tombstones into a new base in the background once they
        exceed this many chunks or 5% of the index, whichever is larger.
    float16:
        Build bases that store vectors as float16 (half the memory and file size); a base of
        the other dtype found at open is read, then rebuilt (from the vectors it holds, as any
        base is: SQLite keeps the float32 originals for chunks the base lacks).
    """

    def __init__(
        self,
        index_dir: Path,
        model: Model,
        *,
        ann_threshold: int = 0,
        ann_index: AnnIndex = ANN_INDEX,
        compact_after: int = 5000,
        float16: bool = False,
        create: bool = False,
    ) -> None:
        self.dir = Path(index_dir)
        self.model_name = model.name
        self.ann_threshold = ann_threshold
        self.ann_index = ann_index
        self.compact_after = compact_after
        self.float16 = float16
        self.records = Records(self.dir)
        self.files = BaseFiles(self.dir, model.dimension)
        self.keyword_files = KeywordFiles(self.dir)
        self._compactor: threading.Thread | None = None
        self._keywords_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._last_check = 0.0
        if not index_exists(self.dir):
            if not create:
                raise IndexNotBuilt(f"no index in {self.dir}: build it with `{BUILD_HINT}`")
            self.dir.mkdir(parents=True, exist_ok=True)
        self.records.init(model.name, model.dimension)
        self._if_free(self.files.remove_stale_temporaries)
        self._snapshot = load_snapshot(self.records, self.files, None)
        if self._snapshot.vectors.float16 != float16 and self._snapshot.base_file is not None:
            # A base of the other dtype: rebuild it from the stored float32 originals.
            self._snapshot = load_snapshot(self.records, self.files, None, use_base=False)
        snap = self._snapshot
        other_kind = snap.vectors.approximate and snap.vectors.kind != ann_index
        if other_kind or snap.base_file is None or snap.vectors.pending > max(compact_after, snap.size // 20):
            # No usable file, or one far behind the store (a crash, another process, a damaged
            # file): write a base now so the next open loads instead of rebuilding.  Atomic
            # rename, no lock needed.  A small lag stays a delta read from SQLite: at a million
            # chunks rebuilding the HNSW base takes minutes, reading a few vectors milliseconds.
            # An approximate base of the other kind (QA_ANN_INDEX changed) is rebuilt now too.
            self._snapshot = compacted(
                self._snapshot, self.files, self.ann_threshold, float16, kind=ann_index
            )
            keep = self._snapshot.base_file
            self._if_free(lambda: self.files.sweep(keep))

    # -- locks -----------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self) -> Iterator[Writer]:
        """Hold the write lock (a thread lock here, a file lock for other processes).

        On entry the snapshot is brought up to date; on exit a compaction starts in
        the background if the delta has grown past ``compact_after``.
        """
        with self._locked():
            yield Writer(self)
        self._maybe_compact()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Both write locks held, and the snapshot brought up to date."""
        with self._write_lock, open(self.dir / ".write.lock", "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self.refresh(force=True)
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _if_free(self, action: Callable[[], None]) -> None:
        """Run ``action`` holding the directory's write lock, only if no writer holds it (never wait)."""
        with open(self.dir / ".write.lock", "a+") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a writer is at work; the next open cleans up
            try:
                action()
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    # -- snapshots -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloaded if another process wrote since (checked at most every 0.5 s)."""
        self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def refresh(self, force: bool = False) -> None:
        """Pick up writes made by another process (e.g. ``qa ingest`` beside a running server)."""
        now = time.monotonic()
        if not force and now - self._last_check < 0.5:
            return
        if not force and self._write_lock.locked():
            # This process is writing: it holds the directory lock, so no other process can
            # have written, and it swaps its own snapshot in when done. Keep the current one.
            return
        self._last_check = now
        current = self._snapshot
        if current is not None and self.records.generation() == current.generation:
            return
        with self._snapshot_lock:
            if self._snapshot is None or self.records.generation() != self._snapshot.generation:
                self._snapshot = load_snapshot(self.records, self.files, self._snapshot)
        self._maybe_compact()

    def _advance(self, written: Written) -> None:
        """Derive the committed generation's snapshot from the current one and swap it in."""
        with self._snapshot_lock:
            old = self._snapshot
            assert old is not None
            if old.generation >= written.generation:
                return  # a forced refresh (check) already loaded this generation whole
            self._snapshot = advance(old, written)

    def compact(self, rebuild: bool = False) -> None:
        """Fold the delta and tombstones into a new base file now, and sweep older files.

        Holds the write lock (writers wait; readers keep the current snapshot).  ``rebuild``
        builds a new base even with nothing pending (e.g. after ``ann_threshold`` changed).
        """
        with self._locked():
            current = self._snapshot
            assert current is not None
            if rebuild or current.vectors.pending or current.base_file is None:
                fresh = compacted(
                    current, self.files, self.ann_threshold, self.float16, self.keyword_files, self.ann_index
                )
                with self._snapshot_lock:
                    self._snapshot = fresh
                current = fresh
            self.files.sweep(current.base_file)
            self.keyword_files.sweep()

    def _maybe_compact(self) -> None:
        snap = self._snapshot
        if snap is None:
            return
        limit = max(self.compact_after, snap.size // 20)
        if snap.vectors.pending <= limit or (self._compactor is not None and self._compactor.is_alive()):
            return

        def run() -> None:
            try:
                self.compact()
            except Exception:  # a failed compaction leaves the delta in place: slower, still correct
                log.exception("background compaction failed")

        self._compactor = threading.Thread(target=run, name="qa-compact", daemon=True)
        self._compactor.start()

    # -- reads for retrieval ---------------------------------------------------------

    reads_vector_last = True  # search scores BM25 before it needs the question's vector (see Retriever)

    def search(self, request: SearchRequest) -> list[Passage]:
        """The ``request.k`` best passages: FAISS and BM25 segments of one snapshot, fused with RRF."""
        snap = self.snapshot()
        if snap.size == 0:
            return []
        allowed = snap.allowed(request.filters)
        if allowed is not None and not len(allowed):
            return []
        # BM25 first: the question may still be encoding in another thread (see Retriever.search).
        lexical = (
            self.keywords(snap).search(request.question, request.pool, allowed) if request.lexical else []
        )
        lists: list[dict[int, float]] = []
        if request.dense:
            lists.append(dict(snap.dense(request.question_vector(), request.pool, allowed)))
        if request.lexical:
            lists.append(dict(lexical))
        return passages(rank(request, lists, snap.published_at), request.k, self.chunks)

    def size(self) -> int:
        """Live chunks in the current snapshot."""
        return self.snapshot().size

    def warm_up(self) -> None:
        """Build the BM25 index of the current snapshot now rather than on the first question."""
        self.keywords(self.snapshot())

    def keywords(self, snap: Snapshot) -> Keywords:
        """The snapshot's BM25 index, built from the store on first use (later writes extend it)."""
        cached = snap.cache.get("keywords")
        if isinstance(cached, Keywords):
            return cached
        with self._keywords_lock:
            return snap.keywords(self.keyword_texts, self.keyword_files)

    def keyword_texts(self, ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Ids and embedding texts of the chunks of ``ids`` that are still stored."""
        rows = self.chunks(ids.tolist())
        kept = np.array([i for i in ids.tolist() if i in rows], dtype=np.int64)
        return kept, [embedding_text(rows[int(i)].title, rows[int(i)].text) for i in kept]

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunks with their document's metadata, by chunk id (deleted ids are absent)."""
        return self.records.chunks(chunk_ids)

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given sentence texts (those that were embedded at ingest)."""
        wanted = {sentence_hash(self.model_name, t): t for t in texts}
        found = self.records.sentence_vectors_by_hash(list(wanted))
        return {wanted[h]: np.frombuffer(v, dtype=np.float32) for h, v in found.items()}

    # -- documents -------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        """Documents, chunks, model, dimension and generation."""
        return self.records.stats()

    def get_document(self, doc_id: str) -> StoredDocument:
        """One document; ``NotFound`` if there is none with that id."""
        return self.records.get_document(doc_id)

    def list_documents(
        self, *, offset: int = 0, limit: int = 50, source: str | None = None
    ) -> tuple[int, list[StoredDocument]]:
        """A page of documents ordered by id, and the total count."""
        return self.records.list_documents(offset=offset, limit=limit, source=source)

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Delete documents and their chunks; returns the ids that existed."""
        with self.writer():
            found, written = self.records.delete(list(dict.fromkeys(doc_ids)))
            if written is not None:
                self._advance(written)
        return found

    def check_consistency(self) -> list[str]:
        """Every vector maps to exactly one live chunk and back; returns the problems found."""

        def latest() -> Snapshot:
            self.refresh(force=True)
            assert self._snapshot is not None
            return self._snapshot

        return check(self.records, latest)

    def close(self) -> None:
        self.records.close()
