"""The FAISS index and the SQLite chunk store on disk: atomic writes, consistent reads.

Layout of the index directory::

    store.sqlite          documents, chunks (with their vectors), each chunk's sentence vectors,
                          meta (model, dimension, generation)
    vectors.<gen>.faiss   the base FAISS index, written by the last compaction (at generation <gen>)

SQLite is the record: every write is one transaction, so a process killed
mid-ingest leaves the previous state.  The FAISS file is derived data, a *base*
that may lag the store: on open, chunks the store has and the base lacks are
read back as a delta and base chunks the store lost become tombstones (see
:mod:`qa.store.segments`), so a missing, stale or corrupt file costs a rebuild from the
stored vectors (no re-embedding), never a wrong answer.  Chunk ids are never
reused, so a reader holding an older snapshot can never be handed another
document's chunk: ids it finds that were deleted meanwhile are simply dropped.

Readers take an immutable :class:`Snapshot`; a write derives the next one from
the current one, touching only the changed chunks (delta and tombstones), and
swaps it in: no file is written and nothing large is copied.  When the delta
and tombstones outgrow ``compact_after`` chunks (or 5% of the index), a
background compaction folds them into a new base and writes it aside, then
renames it; readers keep searching the old snapshot meanwhile.  Writers are
serialized by a lock within the process and an ``fcntl`` lock on the directory
across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from qa.errors import IndexNotBuilt, ModelMismatch, NotFound
from qa.ingest.chunk import CHUNKER_VERSION, chunk_article, embedding_text, sentence_spans
from qa.models.embedding import Embedder
from qa.store.segments import Keywords, LayeredMap, Vectors, build_base
from qa.types import Article, Chunk

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
STORE_NAME = "store.sqlite"
# A temporary FAISS file older than this is a dead writer's leftover, not one being written.
STALE_TMP_S = 60.0
BUILD_HINT = "qa ingest seeds/  (or any articles: qa ingest PATH...)"
PAIRS_KEY = "pairs_through"  # meta: the highest chunk id whose sentence-pair vectors are stored

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    published_at TEXT,
    url TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    added_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_embed_hash ON chunks(embed_hash);
CREATE INDEX IF NOT EXISTS documents_published ON documents(published_at);
CREATE TABLE IF NOT EXISTS sentences (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_hash ON sentences(hash);
CREATE INDEX IF NOT EXISTS sentences_chunk ON sentences(chunk_id);
"""


@dataclass(frozen=True)
class ChunkMeta:
    """What retrieval needs of a chunk without touching SQLite."""

    doc_id: str
    source: str
    published_at: str | None


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


@dataclass
class IngestReport:
    """What a write did: articles added, updated, unchanged, and chunks embedded or reused."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.chunks_embedded += other.chunks_embedded
        self.chunks_reused += other.chunks_reused


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored, with its chunk count."""

    id: str
    title: str
    source: str
    published_at: str | None
    url: str
    text: str
    chunk_count: int
    added_at: float
    updated_at: float

    def article(self) -> Article:
        return Article(self.id, self.text, self.title, self.source, self.published_at, self.url)


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def index_exists(index_dir: Path) -> bool:
    """True if ``index_dir`` holds a chunk store."""
    return (index_dir / STORE_NAME).is_file()


class ChunkIndex:
    """Documents, chunks and vectors in ``index_dir``; safe for concurrent readers and writers.

    Parameters
    ----------
    index_dir:
        Directory of the index; created by :meth:`create` if missing.
    embedder:
        Embeds chunk texts on writes. Its ``name`` and ``dimension`` are recorded
        and checked: opening an index built with another model raises ``ModelMismatch``.
    chunk_words, overlap_sentences:
        Chunking parameters for new and changed documents.
    sentence_vectors:
        Also embed and store each chunk's sentences at ingest, so answering (which
        ranks and verifies sentences) looks them up instead of embedding them.
    ann_threshold:
        A compaction past this many chunks builds an approximate (HNSW) base; 0 = always exact.
    compact_after:
        Fold the delta and tombstones into a new base in the background once they
        exceed this many chunks or 5% of the index, whichever is larger.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        *,
        chunk_words: int = 120,
        overlap_sentences: int = 1,
        sentence_vectors: bool = True,
        ann_threshold: int = 0,
        compact_after: int = 5000,
        create: bool = False,
    ) -> None:
        self.dir = Path(index_dir)
        self.embedder = embedder
        self.chunk_words = chunk_words
        self.overlap_sentences = overlap_sentences
        self.sentence_vectors_enabled = sentence_vectors
        self.ann_threshold = ann_threshold
        self.compact_after = compact_after
        self._compactor: threading.Thread | None = None
        self._pair_warmer: threading.Thread | None = None
        self._pairs_again = False
        self._keywords_lock = threading.Lock()
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._last_check = 0.0
        if not index_exists(self.dir):
            if not create:
                raise IndexNotBuilt(f"no index in {self.dir}: build it with `{BUILD_HINT}`")
            self.dir.mkdir(parents=True, exist_ok=True)
        self._init_store()
        self._remove_stale_temporaries()
        self._snapshot = self._load_snapshot()
        if self._snapshot.vectors.pending or self._snapshot.base_file is None:
            # The file lags the store (a crash, another process, a damaged file): write a base
            # now so the next open loads instead of rebuilding.  Atomic rename, no lock needed.
            self._snapshot = self._compacted(self._snapshot)
            self._sweep_if_free()

    # -- connections -----------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.dir / STORE_NAME, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        """Serialize writers: a thread lock here, a file lock for other processes."""
        with self._write_lock, open(self.dir / ".write.lock", "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self.refresh(force=True)
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _init_store(self) -> None:
        dimension = self.embedder.dimension
        with self._transaction() as conn:
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                conn.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema", SCHEMA_VERSION),
                        ("model", self.embedder.name),
                        ("dimension", str(dimension)),
                        ("generation", "0"),
                    ],
                )
                return
        if meta.get("model") != self.embedder.name or int(meta.get("dimension", -1)) != dimension:
            raise ModelMismatch(
                f"the index in {self.dir} was built with embedding model {meta.get('model')!r} "
                f"({meta.get('dimension')} dimensions), but qa is configured with {self.embedder.name!r} "
                f"({dimension}); set QA_EMBEDDING_MODEL={meta.get('model')} or rebuild the index in a new directory"
            )

    def _remove_stale_temporaries(self) -> None:
        """Delete ``.vectors.*.tmp`` files a killed writer left behind (each the size of the index).

        Only when no writer holds the write lock (a live writer's temporary file is in
        use) and only files untouched for a minute (a reader may be rewriting a damaged
        FAISS file without the lock).
        """
        with open(self.dir / ".write.lock", "a+") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a writer is at work; the next open cleans up
            try:
                cutoff = time.time() - STALE_TMP_S
                for tmp in self.dir.glob(".vectors.*.tmp"):
                    with contextlib.suppress(OSError):
                        if tmp.stat().st_mtime < cutoff:
                            tmp.unlink()
                            log.info("removed %s, left by an interrupted write", tmp.name)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    # -- snapshots -------------------------------------------------------------------

    def _generation(self) -> int:
        row = self._conn().execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0])

    def _faiss_path(self, generation: int) -> Path:
        return self.dir / f"vectors.{generation}.faiss"

    def _base_files(self) -> list[Path]:
        """Base files, newest generation first."""
        found = []
        for path in self.dir.glob("vectors.*.faiss"):
            with contextlib.suppress(ValueError, IndexError):
                found.append((int(path.name.split(".")[1]), path))
        return [p for _, p in sorted(found, reverse=True)]

    def _read_base(self) -> tuple[faiss.Index, str] | None:
        """The newest readable base file (reused from memory if already loaded)."""
        current = self._snapshot
        for path in self._base_files():
            if current is not None and current.base_file == path.name:
                return current.vectors.base, path.name
            try:
                index = faiss.read_index(str(path))
            except RuntimeError:
                log.warning("FAISS file %s is unreadable; using an older one or the store", path.name)
                continue
            if index.d != self.embedder.dimension or not isinstance(index, faiss.IndexIDMap2):
                log.warning("FAISS file %s does not match this index; ignoring it", path.name)
                continue
            return index, path.name
        return None

    def _load_snapshot(self) -> Snapshot:
        """Base file + the store's chunks: what the base lacks is read back as a delta."""
        dim = self.embedder.dimension
        found = self._read_base()
        base, base_file = (
            found
            if found is not None
            else (build_base(np.zeros(0, np.int64), np.zeros((0, dim)), dim, 0), None)
        )
        vectors = Vectors.from_base(base, dim)
        conn = self._conn()
        conn.execute("BEGIN")  # one consistent read of generation, chunks and the delta's vectors
        try:
            generation = self._generation()
            rows = conn.execute(
                "SELECT c.id, c.doc_id, d.source, d.published_at FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "ORDER BY c.id"
            ).fetchall()
            chunks = {int(r[0]): ChunkMeta(r[1], r[2], r[3]) for r in rows}
            live = np.fromiter(chunks.keys(), dtype=np.int64, count=len(chunks))
            missing = np.setdiff1d(live, vectors.base_ids)
            delta = np.zeros((0, dim), np.float32)
            if len(missing):
                got = {
                    int(r[0]): r[1]
                    for r in _select_in(conn, "SELECT id, vector FROM chunks", "id", missing.tolist())
                }
                delta = np.frombuffer(b"".join(got[int(i)] for i in missing), dtype=np.float32).reshape(
                    -1, dim
                )
        finally:
            conn.execute("COMMIT")
        tombstones = frozenset(np.setdiff1d(vectors.base_ids, live).tolist())
        vectors = Vectors(base, vectors.base_ids, missing, delta, tombstones)
        return Snapshot(generation, vectors, LayeredMap(chunks), base_file)

    def _compacted(self, snap: Snapshot) -> Snapshot:
        """``snap`` with its delta and tombstones folded into a new base, saved to disk."""
        ids, vectors = snap.vectors.live()
        base = build_base(ids, vectors, self.embedder.dimension, self.ann_threshold)
        name = self._save_faiss(base, snap.generation)
        cache: dict[str, object] = {}
        keywords = snap.cache.get("keywords")
        if isinstance(keywords, Keywords):
            cache["keywords"] = keywords.compacted()
        return Snapshot(
            snap.generation,
            Vectors.from_base(base, self.embedder.dimension),
            snap.chunks.flatten(),
            name,
            cache,
        )

    def compact(self) -> None:
        """Fold the delta and tombstones into a new base file now, and sweep older files.

        Holds the write lock (writers wait; readers keep the current snapshot).
        """
        with self._writer():
            current = self._snapshot
            assert current is not None
            if current.vectors.pending or current.base_file is None:
                fresh = self._compacted(current)
                with self._snapshot_lock:
                    self._snapshot = fresh
                current = fresh
            for old in self.dir.glob("vectors.*.faiss"):
                if old.name != current.base_file:
                    with contextlib.suppress(OSError):
                        old.unlink()

    def _sweep_if_free(self) -> None:
        """Remove older base files, only if no writer holds the directory (never wait for one)."""
        with open(self.dir / ".write.lock", "a+") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return
            try:
                current = self._snapshot.base_file if self._snapshot else None
                for old in self.dir.glob("vectors.*.faiss"):
                    if old.name != current:
                        with contextlib.suppress(OSError):
                            old.unlink()
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

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

    def keywords(self, snap: Snapshot) -> Keywords:
        """The snapshot's BM25 index, built from the store on first use (later writes extend it)."""
        cached = snap.cache.get("keywords")
        if cached is None:
            with self._keywords_lock:
                cached = snap.cache.get("keywords")
                if cached is None:
                    ids, texts = self.all_chunk_texts(snap)
                    cached = Keywords.build(ids, texts)
                    snap.cache["keywords"] = cached
        assert isinstance(cached, Keywords)
        return cached

    def _save_faiss(self, index: faiss.Index, generation: int) -> str:
        """Write aside, fsync, rename: a reader or a crash never sees half a file; returns its name."""
        target = self._faiss_path(generation)
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
        if current is not None and self._generation() == current.generation:
            return
        with self._snapshot_lock:
            if self._snapshot is None or self._generation() != self._snapshot.generation:
                self._snapshot = self._load_snapshot()
        self._maybe_compact()

    # -- writes ----------------------------------------------------------------------

    def _doc_hash(self, article: Article) -> str:
        return _sha(
            article.text,
            article.title,
            CHUNKER_VERSION,
            str(self.chunk_words),
            str(self.overlap_sentences),
            self.embedder.name,
        )

    def upsert(
        self,
        articles: Sequence[Article],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Add or replace ``articles`` in one atomic write.

        Unchanged articles do no embedding work; a changed article's chunks are
        replaced, and chunks whose text is unchanged keep their stored vectors.
        ``progress`` is called with the number of chunks embedded as work proceeds.
        """
        report = IngestReport()
        if not articles:
            return report
        # The last version of an id in one batch wins.
        latest = {a.id: a for a in articles}
        with self._writer():
            conn = self._conn()
            existing = {
                r[0]: (r[1], r[2], r[3], r[4], r[5])
                for r in _select_in(
                    conn,
                    "SELECT id, content_hash, source, published_at, url, title FROM documents",
                    "id",
                    list(latest),
                )
            }
            to_chunk: list[tuple[Article, str]] = []
            meta_only: list[Article] = []
            for article in latest.values():
                content_hash = self._doc_hash(article)
                old = existing.get(article.id)
                if old is not None and old[0] == content_hash:
                    if (article.source, article.published_at, article.url) == tuple(old[1:4]):
                        report.unchanged.append(article.id)
                    else:
                        meta_only.append(article)
                        report.updated.append(article.id)
                    continue
                to_chunk.append((article, content_hash))
                (report.updated if old is not None else report.added).append(article.id)

            planned: list[tuple[Article, str, list[Chunk], list[str]]] = []
            needed: dict[str, str] = {}
            for article, content_hash in to_chunk:
                chunks = chunk_article(article, self.chunk_words, self.overlap_sentences)
                texts = [embedding_text(article.title, c.text) for c in chunks]
                hashes = [_sha(self.embedder.name, t) for t in texts]
                planned.append((article, content_hash, chunks, hashes))
                needed.update(zip(hashes, texts, strict=True))
            vectors = self._reuse_vectors(conn, list(needed))
            report.chunks_reused = sum(1 for _, _, _, hs in planned for h in hs if h in vectors)
            missing = [h for h in needed if h not in vectors]
            if missing:
                fresh = self.embedder.embed([needed[h] for h in missing], progress=progress)
                vectors.update({h: fresh[i].tobytes() for i, h in enumerate(missing)})
            report.chunks_embedded = len(missing)
            sentences = self._sentence_plan(conn, planned) if self.sentence_vectors_enabled else None

            now = time.time()
            added: dict[int, tuple[bytes, ChunkMeta, str]] = {}
            with self._transaction() as conn:
                # What the next snapshot drops (replaced chunks) and re-labels (metadata-only updates).
                dropped = [
                    int(r[0])
                    for r in _select_in(
                        conn, "SELECT id FROM chunks", "doc_id", [a.id for a, _, _, _ in planned]
                    )
                ]
                relabel = {
                    int(r[0]): ChunkMeta(r[1], a.source, a.published_at)
                    for a in meta_only
                    for r in conn.execute("SELECT id, doc_id FROM chunks WHERE doc_id=?", (a.id,))
                }
                for article in meta_only:
                    conn.execute(
                        "UPDATE documents SET source=?, published_at=?, url=?, updated_at=? WHERE id=?",
                        (article.source, article.published_at, article.url, now, article.id),
                    )
                for article, content_hash, chunks, hashes in planned:
                    conn.execute("DELETE FROM chunks WHERE doc_id=?", (article.id,))
                    conn.execute(
                        "INSERT INTO documents(id, title, source, published_at, url, text, content_hash, added_at, "
                        "updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET title=excluded.title, "
                        "source=excluded.source, published_at=excluded.published_at, url=excluded.url, "
                        "text=excluded.text, content_hash=excluded.content_hash, updated_at=excluded.updated_at",
                        (
                            article.id,
                            article.title,
                            article.source,
                            article.published_at,
                            article.url,
                            article.text,
                            content_hash,
                            now,
                            now,
                        ),
                    )
                    for c, h in zip(chunks, hashes, strict=True):
                        cursor = conn.execute(
                            "INSERT INTO chunks(doc_id, ordinal, start, end, text, embed_hash, vector) "
                            "VALUES (?,?,?,?,?,?,?)",
                            (c.doc_id, c.ordinal, c.start, c.end, c.text, h, vectors[h]),
                        )
                        chunk_id = int(cursor.lastrowid or 0)
                        added[chunk_id] = (
                            vectors[h],
                            ChunkMeta(article.id, article.source, article.published_at),
                            embedding_text(article.title, c.text),
                        )
                        if sentences is not None:
                            conn.executemany(
                                "INSERT INTO sentences(chunk_id, hash, vector) VALUES (?,?,?)",
                                [
                                    (chunk_id, sh, sentences[1][sh])
                                    for sh in sentences[0][(c.doc_id, c.ordinal)]
                                ],
                            )
                if planned or meta_only:
                    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
                    generation = self._generation()
            if planned or meta_only:
                self._advance(generation, added, dropped, relabel)
        self._maybe_compact()
        return report

    def _sentence_hash(self, text: str) -> str:
        return _sha("sentence", self.embedder.name, text)

    def _sentence_plan(
        self, conn: sqlite3.Connection, planned: list[tuple[Article, str, list[Chunk], list[str]]]
    ) -> tuple[dict[tuple[str, int], list[str]], dict[str, bytes]]:
        """Each new chunk's sentence hashes, and a vector for every hash (stored ones reused)."""
        per_chunk: dict[tuple[str, int], list[str]] = {}
        texts: dict[str, str] = {}
        for _article, _hash, chunks, _hashes in planned:
            for c in chunks:
                hashes = []
                for start, end in sentence_spans(c.text):
                    sentence = c.text[start:end]
                    h = self._sentence_hash(sentence)
                    texts[h] = sentence
                    hashes.append(h)
                per_chunk[(c.doc_id, c.ordinal)] = list(dict.fromkeys(hashes))
        vectors = {
            r[0]: r[1] for r in _select_in(conn, "SELECT hash, vector FROM sentences", "hash", list(texts))
        }
        missing = [h for h in texts if h not in vectors]
        if missing:
            fresh = self.embedder.embed([texts[h] for h in missing], batch_size=64)
            vectors.update({h: fresh[i].tobytes() for i, h in enumerate(missing)})
        return per_chunk, vectors

    def pairs_pending(self) -> int:
        """Chunks whose adjacent-sentence pairs have no stored vectors yet (see :meth:`warm_pairs`)."""
        through = self._conn().execute("SELECT value FROM meta WHERE key=?", (PAIRS_KEY,)).fetchone()
        row = self._conn().execute(
            "SELECT COUNT(*) FROM chunks WHERE id > ?", (int(through[0]) if through else 0,)
        )
        return int(row.fetchone()[0])

    def warm_pairs(self, *, background: bool = True) -> None:
        """Store vectors of each chunk's adjacent-sentence pairs, off the request path.

        Answering ranks and verifies sentence pairs as well as sentences; a pair
        missing from the store is embedded during ``/ask``, which made its p95
        about 7x its p50 (the questions whose passages were new to the process's
        cache).  Ingest does not pay for pairs: a server embeds them in the
        background, oldest chunks first, remembering how far it got (meta
        ``pairs_through``), so the vectors are exactly those ``/ask`` would compute.
        """
        if not self.sentence_vectors_enabled:
            return
        if not background:
            self._warm_pairs()
            return
        if self._pair_warmer is not None and self._pair_warmer.is_alive():
            self._pairs_again = True
            return

        def run() -> None:
            try:
                while True:
                    self._pairs_again = False
                    self._warm_pairs()
                    if not self._pairs_again:
                        return
            except Exception:  # pairs missing from the store are embedded on demand: slower, same answers
                log.exception("storing sentence-pair vectors failed")

        self._pair_warmer = threading.Thread(target=run, name="qa-pairs", daemon=True)
        self._pair_warmer.start()

    def _warm_pairs(self, batch: int = 64) -> None:
        conn = self._conn()
        while True:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (PAIRS_KEY,)).fetchone()
            through = int(row[0]) if row else 0
            rows = conn.execute(
                "SELECT id, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (through, batch)
            ).fetchall()
            if not rows:
                return
            texts: dict[str, str] = {}
            per_chunk: dict[int, list[str]] = {}
            for chunk_id, text in rows:
                hashes = []
                for a, b in itertools.pairwise(sentence_spans(text)):
                    pair = text[a[0] : b[1]]
                    h = self._sentence_hash(pair)
                    texts[h] = pair
                    hashes.append(h)
                per_chunk[int(chunk_id)] = list(dict.fromkeys(hashes))
            have = {r[0] for r in _select_in(conn, "SELECT hash FROM sentences", "hash", list(texts))}
            missing = [h for h in texts if h not in have]
            fresh = self.embedder.embed([texts[h] for h in missing], batch_size=32) if missing else None
            vectors = {h: fresh[i].tobytes() for i, h in enumerate(missing)} if fresh is not None else {}
            with self._transaction() as tx:
                live = {r[0] for r in _select_in(tx, "SELECT id FROM chunks", "id", list(per_chunk))}
                tx.executemany(
                    "INSERT INTO sentences(chunk_id, hash, vector) VALUES (?,?,?)",
                    [
                        (chunk_id, h, vectors[h])
                        for chunk_id, hashes in per_chunk.items()
                        if chunk_id in live
                        for h in hashes
                        if h in vectors
                    ],
                )
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (PAIRS_KEY, str(int(rows[-1][0]))),
                )

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given sentence texts (those that were embedded at ingest)."""
        wanted = {self._sentence_hash(t): t for t in texts}
        rows = _select_in(self._conn(), "SELECT hash, vector FROM sentences", "hash", list(wanted))
        return {wanted[r[0]]: np.frombuffer(r[1], dtype=np.float32) for r in rows}

    def _reuse_vectors(self, conn: sqlite3.Connection, hashes: list[str]) -> dict[str, bytes]:
        return {
            r[0]: r[1]
            for r in _select_in(conn, "SELECT embed_hash, vector FROM chunks", "embed_hash", hashes)
        }

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Delete documents and their chunks; returns the ids that existed."""
        ids = list(dict.fromkeys(doc_ids))
        with self._writer():
            with self._transaction() as conn:
                found = [r[0] for r in _select_in(conn, "SELECT id FROM documents", "id", ids)]
                if found:
                    dropped = [int(r[0]) for r in _select_in(conn, "SELECT id FROM chunks", "doc_id", found)]
                    for doc_id in found:
                        conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                        conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))
                    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
                    generation = self._generation()
            if found:
                self._advance(generation, {}, dropped, {})
        self._maybe_compact()
        return found

    def _advance(
        self,
        generation: int,
        added: dict[int, tuple[bytes, ChunkMeta, str]],
        dropped: list[int],
        relabel: dict[int, ChunkMeta],
    ) -> None:
        """Derive the committed generation's snapshot from the current one and swap it in.

        Touches only the changed chunks: the delta, the tombstones and the overlay of
        metadata; the base (FAISS index, BM25 segment, metadata dict) is shared.
        """
        with self._snapshot_lock:
            old = self._snapshot
            assert old is not None
            if old.generation >= generation:
                return  # a forced refresh (check_consistency) already loaded this generation whole
            dim = self.embedder.dimension
            add_ids = np.fromiter(added, dtype=np.int64, count=len(added))
            add_vectors = np.frombuffer(b"".join(v[0] for v in added.values()), dtype=np.float32).reshape(
                -1, dim
            )
            put = {**relabel, **{i: v[1] for i, v in added.items()}}
            cache: dict[str, object] = {}
            keywords = old.cache.get("keywords")
            if isinstance(keywords, Keywords):
                cache["keywords"] = keywords.evolve({i: v[2] for i, v in added.items()}, dropped)
            self._snapshot = Snapshot(
                generation,
                old.vectors.evolve(add_ids, add_vectors, dropped),
                old.chunks.evolve(put, dropped),
                old.base_file,
                cache,
            )

    # -- reads -----------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        conn = self._conn()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        documents = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {
            "documents": int(documents),
            "chunks": int(chunks),
            "model": meta.get("model"),
            "dimension": int(meta.get("dimension", 0)),
            "generation": int(meta.get("generation", 0)),
        }

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, sqlite3.Row]:
        """Live chunks with their document's metadata, by chunk id (deleted ids are absent)."""
        sql = (
            "SELECT c.id, c.doc_id, c.start, c.end, c.text, d.title, d.source, d.published_at "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id"
        )
        return {int(r["id"]): r for r in _select_in(self._conn(), sql, "c.id", [int(i) for i in chunk_ids])}

    def all_chunk_texts(self, snapshot: Snapshot) -> tuple[np.ndarray, list[str]]:
        """Ids and embedding texts of every chunk in ``snapshot`` (for the BM25 index)."""
        rows = self.chunk_rows(snapshot.ids.tolist())
        ids = np.array([i for i in snapshot.ids.tolist() if i in rows], dtype=np.int64)
        return ids, [embedding_text(rows[int(i)]["title"], rows[int(i)]["text"]) for i in ids]

    def get_document(self, doc_id: str) -> StoredDocument:
        row = (
            self._conn()
            .execute(
                "SELECT d.*, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id) AS chunk_count "
                "FROM documents d WHERE d.id=?",
                (doc_id,),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return _stored(row)

    def list_documents(
        self, *, offset: int = 0, limit: int = 50, source: str | None = None
    ) -> tuple[int, list[StoredDocument]]:
        """A page of documents ordered by id, and the total count."""
        where, args = ("WHERE d.source = ?", [source]) if source else ("", [])
        conn = self._conn()
        total = conn.execute(f"SELECT COUNT(*) FROM documents d {where}", args).fetchone()[0]
        rows = conn.execute(
            "SELECT d.*, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id) AS chunk_count "
            f"FROM documents d {where} ORDER BY d.id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return int(total), [_stored(r) for r in rows]

    def check_consistency(self) -> list[str]:
        """Every vector maps to exactly one live chunk and back; returns the problems found."""
        conn = self._conn()
        # Compare the store with the snapshot of the same generation: another handle may have
        # written since this one last looked, which is not an inconsistency.
        for attempt in range(5):
            self.refresh(force=True)
            snap = self._snapshot
            assert snap is not None
            conn.execute("BEGIN")
            if self._generation() == snap.generation or attempt == 4:
                break
            conn.execute("COMMIT")
        try:
            return self._problems(conn, snap)
        finally:
            conn.execute("COMMIT")

    def _problems(self, conn: sqlite3.Connection, snap: Snapshot) -> list[str]:
        problems: list[str] = []
        db_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
        faiss_ids = snap.vectors.live_ids().tolist()
        if len(faiss_ids) != len(set(faiss_ids)):
            problems.append("duplicate ids in the FAISS index")
        if set(faiss_ids) != db_ids:
            problems.append(f"FAISS ids and stored chunks differ: {len(set(faiss_ids) ^ db_ids)} ids")
        orphans = conn.execute(
            "SELECT COUNT(*) FROM chunks c LEFT JOIN documents d ON d.id=c.doc_id WHERE d.id IS NULL"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} chunks of missing documents")
        bad_spans = 0
        for row in conn.execute(
            "SELECT c.start, c.end, c.text, d.text FROM chunks c JOIN documents d ON d.id=c.doc_id"
        ):
            if row[3][row[0] : row[1]] != row[2]:
                bad_spans += 1
        if bad_spans:
            problems.append(f"{bad_spans} chunks whose span does not match their document")
        return problems

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _stored(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(
        row["id"],
        row["title"],
        row["source"],
        row["published_at"],
        row["url"],
        row["text"],
        int(row["chunk_count"]),
        float(row["added_at"]),
        float(row["updated_at"]),
    )


def _select_in(
    conn: sqlite3.Connection, sql: str, column: str, values: Sequence[object]
) -> list[sqlite3.Row]:
    """``sql WHERE column IN (...)`` in batches under SQLite's variable limit."""
    out: list[sqlite3.Row] = []
    for i in range(0, len(values), 500):
        part = values[i : i + 500]
        marks = ",".join("?" * len(part))
        joiner = " AND " if " WHERE " in sql.upper() else " WHERE "
        out.extend(conn.execute(f"{sql}{joiner}{column} IN ({marks})", list(part)).fetchall())
    return out
