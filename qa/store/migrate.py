"""``qa migrate --to milvus``: copy an embedded index (FAISS + SQLite) into Milvus without re-embedding.

The source is read from its ``store.sqlite`` (read-only: the FAISS files are
derived from it and not needed): documents in id order, in batches, each batch
with its chunks, their stored vectors and their sentence vectors.  Each batch
becomes a :class:`qa.ingest.embed.PreparedWrite`, exactly as ingest would
prepare it, and goes through the Milvus store's one idempotent write path
(:func:`qa.store.milvus_write.write`), keeping the documents' ``added_at`` and
``updated_at``.

Resumable: a document whose row in Milvus has the source's content hash, source,
date and URL is complete (the document row is written last) and is skipped, so
a migration killed midway is completed by running it again, and a finished one
re-runs as a no-op.  At the end :func:`verify` compares the two stores: the same
document ids, per-document chunk counts, chunk count, and every sentence vector
present.  The sidecar files (``annotations.sqlite``, ``origins.sqlite``, ``words.sqlite``) are not
part of the store; :func:`copy_sidecars` copies them when the source directory
is not the target's index directory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qa.config import Settings
from qa.errors import IndexNotBuilt, QAError
from qa.ingest.chunk import embedding_text
from qa.ingest.embed import EmbeddedChunk, IngestReport, PreparedDocument, PreparedWrite
from qa.store.records import STORE_NAME
from qa.types import Article, Chunk

BATCH_DOCUMENTS = 100
SIDECARS = ("annotations.sqlite", "origins.sqlite", "words.sqlite")


class MigrationError(QAError):
    """A migration that can't start (no source index) or that doesn't verify."""


@dataclass(frozen=True)
class SourceModel:
    """The source index's embedding model (name and dimension): what the target is pinned to."""

    name: str
    dimension: int


@dataclass
class MigrationReport:
    """What a migration did: documents copied and skipped, chunks and sentence vectors written."""

    documents: int = 0
    copied: int = 0
    skipped: int = 0
    chunks: int = 0
    sentence_vectors: int = 0
    problems: list[str] = field(default_factory=list)


class Source:
    """An embedded index's ``store.sqlite``, opened read-only."""

    def __init__(self, index_dir: Path) -> None:
        path = Path(index_dir).expanduser() / STORE_NAME
        if not path.is_file():
            raise IndexNotBuilt(f"no index to migrate in {index_dir} (no {STORE_NAME}); give it with --from")
        self.dir = Path(index_dir).expanduser()
        self.conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=30.0)
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        self.model = SourceModel(str(meta["model"]), int(meta["dimension"]))

    def document_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM documents ORDER BY id")]

    def counts(self) -> dict[str, int]:
        one = self.conn.execute
        return {
            "documents": int(one("SELECT COUNT(*) FROM documents").fetchone()[0]),
            "chunks": int(one("SELECT COUNT(*) FROM chunks").fetchone()[0]),
            "sentence_vectors": int(one("SELECT COUNT(DISTINCT hash) FROM sentences").fetchone()[0]),
        }

    def chunk_counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id")
        return {r[0]: int(r[1]) for r in rows}

    def sentence_hashes(self) -> Iterator[list[str]]:
        cursor = self.conn.execute("SELECT DISTINCT hash FROM sentences")
        while rows := cursor.fetchmany(BATCH_DOCUMENTS * 10):
            yield [r[0] for r in rows]

    def batch(self, doc_ids: list[str]) -> tuple[PreparedWrite, dict[str, tuple[float, float]]]:
        """The documents ``doc_ids`` as one write (stored vectors, no embedding), and their times."""
        marks = ",".join("?" * len(doc_ids))
        docs = self.conn.execute(
            "SELECT id, title, source, published_at, url, text, content_hash, added_at, updated_at "
            f"FROM documents WHERE id IN ({marks}) ORDER BY id",
            doc_ids,
        ).fetchall()
        chunks: dict[str, list[tuple]] = {d: [] for d in doc_ids}
        for row in self.conn.execute(
            "SELECT id, doc_id, ordinal, start, end, text, embed_hash, vector "
            f"FROM chunks WHERE doc_id IN ({marks}) ORDER BY doc_id, ordinal",
            doc_ids,
        ):
            chunks[row[1]].append(row)
        sentences: dict[int, list[str]] = {}
        vectors: dict[str, bytes] = {}
        for chunk_id, digest, vector in self.conn.execute(
            "SELECT s.chunk_id, s.hash, s.vector FROM sentences s JOIN chunks c ON c.id = s.chunk_id "
            f"WHERE c.doc_id IN ({marks}) ORDER BY s.rowid",
            doc_ids,
        ):
            sentences.setdefault(int(chunk_id), []).append(digest)
            vectors[digest] = vector
        documents = []
        times = {}
        for doc_id, title, source, published_at, url, text, digest, added_at, updated_at in docs:
            article = Article(doc_id, text, title, source, published_at, url)
            embedded = [
                EmbeddedChunk(
                    Chunk(doc_id, int(start), int(end), ctext, int(ordinal)),
                    embed_hash,
                    vector,
                    embedding_text(title, ctext),
                    tuple(dict.fromkeys(sentences.get(int(cid), []))),
                )
                for cid, _, ordinal, start, end, ctext, embed_hash, vector in chunks[doc_id]
            ]
            documents.append(PreparedDocument(article, digest, embedded))
            times[doc_id] = (float(added_at), float(updated_at))
        return PreparedWrite(documents, [], vectors, IngestReport()), times

    def close(self) -> None:
        self.conn.close()


def migrate_to_milvus(
    source_dir: Path,
    settings: Settings,
    *,
    batch: int = BATCH_DOCUMENTS,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> MigrationReport:
    """Copy the index in ``source_dir`` into the Milvus ``settings`` name, then verify; see the module docstring.

    ``on_start`` gets the number of source documents, ``progress`` the documents done per batch.
    """
    from qa.store.milvus import MilvusStore
    from qa.store.milvus_write import write

    source = Source(source_dir)
    try:
        target = MilvusStore(settings, source.model, create=True)
        try:
            ids = source.document_ids()
            report = MigrationReport(documents=len(ids))
            if on_start:
                on_start(len(ids))
            for i in range(0, len(ids), batch):
                part = ids[i : i + batch]
                prepared, times = source.batch(part)
                with target.writer() as writer:
                    stored = writer.document_states(part)
                    todo = [d for d in prepared.documents if not _complete(d, stored)]
                    report.skipped += len(part) - len(todo)
                    if todo:
                        needed = {h for d in todo for e in d.chunks for h in e.sentences}
                        vectors = {h: v for h, v in prepared.sentence_vectors.items() if h in needed}
                        write(target, PreparedWrite(todo, [], vectors, IngestReport()), times=times)
                        report.copied += len(todo)
                        report.chunks += sum(len(d.chunks) for d in todo)
                        report.sentence_vectors += len(vectors)
                if progress:
                    progress(len(part))
            target.compact()
            report.problems = verify(source, target)
        finally:
            target.close()
    finally:
        source.close()
    return report


def _complete(doc: PreparedDocument, stored: dict) -> bool:
    """True if Milvus holds this version of the document with the same labels (its row is written last)."""
    state = stored.get(doc.article.id)
    a = doc.article
    return state is not None and (state.content_hash, state.source, state.published_at, state.url) == (
        doc.content_hash,
        a.source,
        a.published_at,
        a.url,
    )


def verify(source: Source, target: object) -> list[str]:
    """Where the Milvus store differs from the source: document ids, chunk counts, sentence vectors."""
    from qa.store.milvus import MilvusStore

    assert isinstance(target, MilvusStore)
    problems: list[str] = []
    want = source.chunk_counts()
    ids = source.document_ids()
    have = {r["id"]: int(r["chunk_count"]) for r in target.query_all("documents", ["id", "chunk_count"])}
    missing = [d for d in ids if d not in have]
    extra = sorted(set(have) - set(ids))
    if missing:
        problems.append(f"{len(missing)} documents not in Milvus (first: {missing[0]!r}); run it again")
    if extra:
        problems.append(
            f"Milvus holds {len(extra)} documents the source does not (first: {extra[0]!r}): "
            "migrate into an empty collection (--collection)"
        )
    wrong = [d for d in ids if d in have and have[d] != want.get(d, 0)]
    if wrong:
        problems.append(f"{len(wrong)} documents with another chunk count than the source's")
    counts = source.counts()
    chunks = target.count("chunks")
    if chunks != counts["chunks"] and not extra:
        problems.append(f"Milvus holds {chunks} chunks, the source {counts['chunks']}")
    absent = 0
    for hashes in source.sentence_hashes():
        absent += len(hashes) - len(target.query_in("sentences", "hash", hashes, ["hash"]))
    if absent:
        problems.append(f"{absent} sentence vectors not in Milvus")
    return problems


def target_counts(settings: Settings, model_name: str, dimension: int) -> dict[str, int]:
    """Documents, chunks and sentence vectors in the configured Milvus collections."""
    from qa.store.milvus import MilvusStore

    store = MilvusStore(settings, SourceModel(model_name, dimension))
    try:
        return {
            "documents": store.count("documents"),
            "chunks": store.count("chunks"),
            "sentence_vectors": store.count("sentences"),
        }
    finally:
        store.close()


def copy_sidecars(source_dir: Path, index_dir: Path) -> list[str]:
    """Copy the annotation and origin files into ``index_dir`` (SQLite's backup: consistent copies).

    Not when both are the same directory, and never over an existing file.  Returns the names copied.
    """
    source_dir, index_dir = Path(source_dir).expanduser(), Path(index_dir).expanduser()
    if source_dir.resolve() == index_dir.resolve():
        return []
    copied = []
    for name in SIDECARS:
        src, dst = source_dir / name, index_dir / name
        if not src.is_file() or dst.exists():
            continue
        index_dir.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{src.resolve()}?mode=ro", uri=True) as a, sqlite3.connect(dst) as b:
            a.backup(b)
        copied.append(name)
    return copied
