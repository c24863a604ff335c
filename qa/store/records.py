"""The record store: documents, chunks (with their vectors) and sentence vectors in SQLite.

``store.sqlite`` in the index directory is the record of what is indexed; the
FAISS files (:mod:`qa.store.vectors`) are derived from it.  Every write is one
transaction, so a process killed mid-ingest leaves the previous state, and each
bumps the ``generation`` in ``meta``, which is how other handles notice it.
Vectors are stored under content hashes (of a chunk's embedding text, of a
sentence), so the embed stage can ask which ones it need not compute again.

Everything read out of here is a dataclass (:class:`StoredDocument`,
:class:`ChunkRecord`, :class:`ChunkMeta`, :class:`DocumentState`), never a
``sqlite3.Row``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelMismatch, NotFound
from qa.ingest.embed import DocumentState, PreparedWrite
from qa.types import Article

SCHEMA_VERSION = "1"
STORE_NAME = "store.sqlite"

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

_DOCUMENT_COLUMNS = (
    "d.id, d.title, d.source, d.published_at, d.url, d.text, "
    "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id), d.added_at, d.updated_at"
)


@dataclass(frozen=True)
class ChunkMeta:
    """What retrieval needs of a chunk without touching SQLite."""

    doc_id: str
    source: str
    published_at: str | None


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk with its document's title, source and date."""

    id: int
    doc_id: str
    start: int
    end: int
    text: str
    title: str
    source: str
    published_at: str | None


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


@dataclass(frozen=True)
class LiveChunks:
    """One consistent read of a generation: every live chunk, and the vectors a base file lacks."""

    generation: int
    chunks: dict[int, ChunkMeta]
    missing: np.ndarray  # ids of live chunks not in the given base, ascending
    vectors: np.ndarray  # their vectors, in that order


@dataclass(frozen=True)
class Written:
    """What a committed write changed, for the next snapshot: chunks added, dropped and relabelled."""

    generation: int
    added: dict[int, tuple[bytes, ChunkMeta, str]]  # id -> (vector, metadata, BM25 text)
    dropped: list[int]
    relabel: dict[int, ChunkMeta]


class Records:
    """``store.sqlite`` in ``directory``: one connection per thread, WAL, full sync."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / STORE_NAME
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; transactions are explicit)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, rolled back on any exception."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same generation."""
        conn = self.conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def init(self, model: str, dimension: int) -> None:
        """Create the schema, or check that the stored model is ``model`` with ``dimension``."""
        with self.transaction() as conn:
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                conn.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema", SCHEMA_VERSION),
                        ("model", model),
                        ("dimension", str(dimension)),
                        ("generation", "0"),
                    ],
                )
                return
        if meta.get("model") != model or int(meta.get("dimension", -1)) != dimension:
            raise ModelMismatch(
                f"the index in {self.path.parent} was built with embedding model {meta.get('model')!r} "
                f"({meta.get('dimension')} dimensions), but qa is configured with {model!r} "
                f"({dimension}); set QA_EMBEDDING_MODEL={meta.get('model')} or rebuild the index in a new directory"
            )

    def generation(self, conn: sqlite3.Connection | None = None) -> int:
        row = (conn or self.conn()).execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0])

    # -- reads -----------------------------------------------------------------------

    def live(self, base_ids: np.ndarray, dimension: int) -> LiveChunks:
        """Every live chunk's metadata, and the vectors of those not in ``base_ids``."""
        with self.reading() as conn:
            generation = self.generation(conn)
            rows = conn.execute(
                "SELECT c.id, c.doc_id, d.source, d.published_at FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "ORDER BY c.id"
            ).fetchall()
            chunks = {int(r[0]): ChunkMeta(r[1], r[2], r[3]) for r in rows}
            live = np.fromiter(chunks.keys(), dtype=np.int64, count=len(chunks))
            missing = np.setdiff1d(live, base_ids)
            delta = np.zeros((0, dimension), np.float32)
            if len(missing):
                got = {
                    int(r[0]): r[1]
                    for r in _select_in(conn, "SELECT id, vector FROM chunks", "id", missing.tolist())
                }
                delta = np.frombuffer(b"".join(got[int(i)] for i in missing), dtype=np.float32).reshape(
                    -1, dimension
                )
        return LiveChunks(generation, chunks, missing, delta)

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        sql = "SELECT id, content_hash, source, published_at, url FROM documents"
        return {
            r[0]: DocumentState(r[1], r[2], r[3], r[4]) for r in _select_in(self.conn(), sql, "id", doc_ids)
        }

    def chunk_vectors(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored chunk vectors by embedding-text hash."""
        sql = "SELECT embed_hash, vector FROM chunks"
        return {r[0]: r[1] for r in _select_in(self.conn(), sql, "embed_hash", hashes)}

    def sentence_vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored sentence vectors by sentence hash."""
        return {
            r[0]: r[1] for r in _select_in(self.conn(), "SELECT hash, vector FROM sentences", "hash", hashes)
        }

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunks with their document's metadata, by chunk id (deleted ids are absent)."""
        sql = (
            "SELECT c.id, c.doc_id, c.start, c.end, c.text, d.title, d.source, d.published_at "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id"
        )
        rows = _select_in(self.conn(), sql, "c.id", [int(i) for i in chunk_ids])
        return {
            int(r[0]): ChunkRecord(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], r[5], r[6], r[7])
            for r in rows
        }

    def stats(self) -> dict[str, object]:
        conn = self.conn()
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

    def get_document(self, doc_id: str) -> StoredDocument:
        row = (
            self.conn()
            .execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.id=?", (doc_id,))
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
        conn = self.conn()
        total = conn.execute(f"SELECT COUNT(*) FROM documents d {where}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d {where} ORDER BY d.id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return int(total), [_stored(r) for r in rows]

    # -- writes ----------------------------------------------------------------------

    def write(self, prepared: PreparedWrite) -> Written:
        """Apply ``prepared`` in one transaction: relabel, replace documents' chunks, bump the generation."""
        now = time.time()
        added: dict[int, tuple[bytes, ChunkMeta, str]] = {}
        with self.transaction() as conn:
            # What the next snapshot drops (replaced chunks) and re-labels (metadata-only updates).
            rewritten = [d.article.id for d in prepared.documents]
            dropped = [int(r[0]) for r in _select_in(conn, "SELECT id FROM chunks", "doc_id", rewritten)]
            relabel = {
                int(r[0]): ChunkMeta(r[1], a.source, a.published_at)
                for a in prepared.relabel
                for r in conn.execute("SELECT id, doc_id FROM chunks WHERE doc_id=?", (a.id,))
            }
            for article in prepared.relabel:
                conn.execute(
                    "UPDATE documents SET source=?, published_at=?, url=?, updated_at=? WHERE id=?",
                    (article.source, article.published_at, article.url, now, article.id),
                )
            for doc in prepared.documents:
                a = doc.article
                conn.execute("DELETE FROM chunks WHERE doc_id=?", (a.id,))
                conn.execute(
                    "INSERT INTO documents(id, title, source, published_at, url, text, content_hash, added_at, "
                    "updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET title=excluded.title, "
                    "source=excluded.source, published_at=excluded.published_at, url=excluded.url, "
                    "text=excluded.text, content_hash=excluded.content_hash, updated_at=excluded.updated_at",
                    (a.id, a.title, a.source, a.published_at, a.url, a.text, doc.content_hash, now, now),
                )
                for e in doc.chunks:
                    c = e.chunk
                    cursor = conn.execute(
                        "INSERT INTO chunks(doc_id, ordinal, start, end, text, embed_hash, vector) "
                        "VALUES (?,?,?,?,?,?,?)",
                        (c.doc_id, c.ordinal, c.start, c.end, c.text, e.embed_hash, e.vector),
                    )
                    chunk_id = int(cursor.lastrowid or 0)
                    added[chunk_id] = (e.vector, ChunkMeta(a.id, a.source, a.published_at), e.keywords_text)
                    conn.executemany(
                        "INSERT INTO sentences(chunk_id, hash, vector) VALUES (?,?,?)",
                        [(chunk_id, h, prepared.sentence_vectors[h]) for h in e.sentences],
                    )
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
            generation = self.generation(conn)
        return Written(generation, added, dropped, relabel)

    def delete(self, doc_ids: Sequence[str]) -> tuple[list[str], Written | None]:
        """Delete documents and their chunks; the ids that existed, and the change (None if none did)."""
        with self.transaction() as conn:
            found = [r[0] for r in _select_in(conn, "SELECT id FROM documents", "id", doc_ids)]
            if not found:
                return [], None
            dropped = [int(r[0]) for r in _select_in(conn, "SELECT id FROM chunks", "doc_id", found)]
            for doc_id in found:
                conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
            generation = self.generation(conn)
        return found, Written(generation, {}, dropped, {})

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _stored(row: tuple[Any, ...]) -> StoredDocument:
    doc_id, title, source, published_at, url, text, chunk_count, added_at, updated_at = row
    return StoredDocument(
        doc_id, title, source, published_at, url, text, int(chunk_count), float(added_at), float(updated_at)
    )


def _select_in(
    conn: sqlite3.Connection, sql: str, column: str, values: Sequence[object]
) -> list[tuple[Any, ...]]:
    """``sql WHERE column IN (...)`` in batches under SQLite's variable limit."""
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(values), 500):
        part = values[i : i + 500]
        marks = ",".join("?" * len(part))
        joiner = " AND " if " WHERE " in sql.upper() else " WHERE "
        out.extend(conn.execute(f"{sql}{joiner}{column} IN ({marks})", list(part)).fetchall())
    return out
