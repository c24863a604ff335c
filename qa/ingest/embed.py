"""Chunks -> vectors: the embed stage of ingest, between chunking and the store's write.

``Pipeline`` runs it under the store's write lock: :func:`changes` compares each
article's content hash with the stored one (unchanged articles do no work, a
changed source or date only relabels), :func:`prepare` hashes every chunk's
embedding text and each of its sentences, asks the store which of those hashes
it already holds vectors for, embeds only the rest, and returns a
:class:`PreparedWrite` the store writes as it is.  Every hash here names the
model, so a vector is reused only for the same text under the same model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from qa.ingest.chunk import CHUNKER_VERSION, embedding_text, sentence_spans
from qa.ingest.load import Problem
from qa.models.embedding import Embedder
from qa.types import Article, Chunk


def content_hash(*parts: str) -> str:
    """SHA-256 over ``parts``, each followed by a separator (lone surrogates allowed)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def sentence_hash(model: str, text: str) -> str:
    """The key of a sentence's stored vector under ``model``."""
    return content_hash("sentence", model, text)


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


@dataclass
class IngestResult:
    """What an ingest did, and what it skipped."""

    report: IngestReport
    problems: list[Problem]


@dataclass(frozen=True)
class DocumentState:
    """What the store holds of a document that decides whether a re-ingest is work."""

    content_hash: str
    source: str
    published_at: str | None
    url: str


@dataclass(frozen=True)
class Chunking:
    """How articles are cut and embedded: part of every document's content hash."""

    model: str
    chunk_words: int = 120
    overlap_sentences: int = 1

    def document_hash(self, article: Article) -> str:
        return content_hash(
            article.text,
            article.title,
            CHUNKER_VERSION,
            str(self.chunk_words),
            str(self.overlap_sentences),
            self.model,
        )


@dataclass
class Changes:
    """Which articles of a batch need chunking and embedding, and which only a metadata update."""

    rewrite: list[tuple[Article, str]]  # (article, content hash): new or changed text
    relabel: list[Article]  # same text, another source, date or URL
    report: IngestReport


def changes(articles: Sequence[Article], stored: Mapping[str, DocumentState], chunking: Chunking) -> Changes:
    """Sort ``articles`` (the last version of an id wins) against the ``stored`` states."""
    out = Changes([], [], IngestReport())
    for article in {a.id: a for a in articles}.values():
        digest = chunking.document_hash(article)
        old = stored.get(article.id)
        if old is not None and old.content_hash == digest:
            if (article.source, article.published_at, article.url) == (old.source, old.published_at, old.url):
                out.report.unchanged.append(article.id)
            else:
                out.relabel.append(article)
                out.report.updated.append(article.id)
            continue
        out.rewrite.append((article, digest))
        (out.report.updated if old is not None else out.report.added).append(article.id)
    return out


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk ready to store: its embedding-text hash, float32 vector bytes and sentence hashes."""

    chunk: Chunk
    embed_hash: str
    vector: bytes
    keywords_text: str  # what BM25 indexes: the title and the chunk text
    sentences: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreparedDocument:
    """A new or changed article with its chunks: the store replaces the document's chunks with these."""

    article: Article
    content_hash: str
    chunks: list[EmbeddedChunk]


@dataclass
class PreparedWrite:
    """One atomic write: documents to (re)write, articles to relabel, and sentence vectors by hash."""

    documents: list[PreparedDocument]
    relabel: list[Article]
    sentence_vectors: dict[str, bytes]
    report: IngestReport

    def __bool__(self) -> bool:
        return bool(self.documents or self.relabel)


class StoredVectors(Protocol):
    """The store's answer to "which of these hashes have a vector already?"."""

    def chunk_vectors(self, hashes: Sequence[str]) -> dict[str, bytes]: ...

    def sentence_vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]: ...


def prepare(
    todo: Changes,
    chunks: Mapping[str, list[Chunk]],
    embedder: Embedder,
    stored: StoredVectors,
    *,
    sentences: bool = True,
    progress: Callable[[int], None] | None = None,
) -> PreparedWrite:
    """Vectors for the chunks of ``todo.rewrite`` (``chunks`` by article id), stored ones reused.

    ``sentences`` also prepares each chunk's sentence vectors, so answering (which
    ranks and verifies sentences) looks them up instead of embedding them.
    ``progress`` is called with the number of chunks embedded as work proceeds.
    """
    planned: list[tuple[Article, str, list[Chunk], list[str], list[str]]] = []
    needed: dict[str, str] = {}
    for article, digest in todo.rewrite:
        own = chunks[article.id]
        texts = [embedding_text(article.title, c.text) for c in own]
        hashes = [content_hash(embedder.name, t) for t in texts]
        planned.append((article, digest, own, hashes, texts))
        needed.update(zip(hashes, texts, strict=True))
    vectors = stored.chunk_vectors(list(needed))
    todo.report.chunks_reused = sum(1 for *_, hs, _ in planned for h in hs if h in vectors)
    missing = [h for h in needed if h not in vectors]
    if missing:
        fresh = embedder.embed([needed[h] for h in missing], progress=progress)
        vectors.update({h: fresh[i].tobytes() for i, h in enumerate(missing)})
    todo.report.chunks_embedded = len(missing)
    per_chunk, sentence_vectors = (
        _sentences([c for _, _, own, _, _ in planned for c in own], embedder, stored)
        if sentences
        else ({}, {})
    )
    documents = [
        PreparedDocument(
            article,
            digest,
            [
                EmbeddedChunk(c, h, vectors[h], t, per_chunk.get((c.doc_id, c.ordinal), ()))
                for c, h, t in zip(own, hashes, texts, strict=True)
            ],
        )
        for article, digest, own, hashes, texts in planned
    ]
    return PreparedWrite(documents, todo.relabel, sentence_vectors, todo.report)


def _sentences(
    chunks: list[Chunk], embedder: Embedder, stored: StoredVectors
) -> tuple[dict[tuple[str, int], tuple[str, ...]], dict[str, bytes]]:
    """Each chunk's sentence hashes, and a vector for every hash (stored ones reused)."""
    per_chunk: dict[tuple[str, int], tuple[str, ...]] = {}
    texts: dict[str, str] = {}
    for c in chunks:
        hashes = []
        for start, end in sentence_spans(c.text):
            sentence = c.text[start:end]
            h = sentence_hash(embedder.name, sentence)
            texts[h] = sentence
            hashes.append(h)
        per_chunk[(c.doc_id, c.ordinal)] = tuple(dict.fromkeys(hashes))
    vectors = stored.sentence_vectors_by_hash(list(texts))
    missing = [h for h in texts if h not in vectors]
    if missing:
        fresh = embedder.embed([texts[h] for h in missing], batch_size=64)
        vectors.update({h: fresh[i].tobytes() for i, h in enumerate(missing)})
    return per_chunk, vectors
