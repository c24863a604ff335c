"""Chunks -> vectors: the embed stage of ingest, between chunking and the store's write.

``Pipeline`` runs it under the store's write lock: :func:`changes` compares each
article's content hash with the stored one (unchanged articles do no work, a
changed source or date only relabels), :func:`prepare` hashes every chunk's
embedding text and each of its sentences, asks the store which of those hashes
it already holds vectors for, embeds only the rest, and returns a
:class:`PreparedWrite` the store writes as it is.  Every hash here names the
model, so a vector is reused only for the same text under the same model.

A chunk's vector is embedded from its title and text (``QA_CHUNK_VECTORS=encoded``,
the default) or *derived* from its sentences' (``derived``): the sum of its distinct sentences' unit vectors and
its article title's (the title is what :func:`~qa.ingest.chunk.embedding_text`
prepends when a chunk is encoded), each weighted by the square root of its word
count, normalized.  Sentences are embedded anyway (answers rank and verify them),
so the chunk pass, the longest texts of an ingest, is not paid at all.  Measured
on the news corpus (``scripts/derived_chunk_vectors.py`` and the eval; see the
README, *Speed and scale*: ingest 1.17x faster, dense retrieval as good, but the
corroboration eval weaker, so it is not the default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from qa.config import Settings
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


ChunkVectors = Literal["derived", "encoded"]
DERIVED_VERSION = "derived-1"  # bump when the derivation changes: stored derived vectors are then redone


@dataclass(frozen=True)
class Chunking:
    """How articles are cut and embedded: part of every document's content hash."""

    model: str
    chunk_words: int = 120
    overlap_sentences: int = 1
    chunk_vectors: ChunkVectors = "encoded"

    @property
    def derived(self) -> bool:
        return self.chunk_vectors == "derived"

    def _derivation(self) -> tuple[str, ...]:
        return (DERIVED_VERSION,) if self.derived else ()

    def document_hash(self, article: Article) -> str:
        return content_hash(
            article.text,
            article.title,
            CHUNKER_VERSION,
            str(self.chunk_words),
            str(self.overlap_sentences),
            self.model,
            *self._derivation(),
        )

    def chunk_key(self, text: str) -> str:
        """The key of a chunk's stored vector: its embedding text, the model and how it was made
        (an encoded and a derived vector of one text are never mistaken for each other)."""
        return (
            content_hash(self.model, text)
            if not self.derived
            else content_hash(*self._derivation(), self.model, text)
        )


def chunking(settings: Settings, model: str) -> Chunking:
    """The :class:`Chunking` that ``settings`` describe for ``model``."""
    return Chunking(
        model,
        settings.chunk_words,
        settings.chunk_overlap_sentences,
        settings.chunk_vectors,
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
    chunking: Chunking | None = None,
    progress: Callable[[int], None] | None = None,
) -> PreparedWrite:
    """Vectors for the chunks of ``todo.rewrite`` (``chunks`` by article id), stored ones reused.

    ``sentences`` also prepares each chunk's sentence vectors, so answering (which
    ranks and verifies sentences) looks them up instead of embedding them.  With a
    ``chunking`` that derives chunk vectors, sentences are embedded either way (the
    chunk vectors are made from them) and titles with them; ``sentences`` then only
    decides whether they are stored.  ``progress`` is called with the number of
    chunks embedded (or derived) as work proceeds.
    """
    chunking = chunking or Chunking(embedder.name)
    planned: list[tuple[Article, str, list[Chunk], list[str], list[str]]] = []
    needed: dict[str, str] = {}
    titles: dict[str, str] = {}  # chunk key -> its article's title
    for article, digest in todo.rewrite:
        own = chunks[article.id]
        texts = [embedding_text(article.title, c.text) for c in own]
        hashes = [chunking.chunk_key(t) for t in texts]
        planned.append((article, digest, own, hashes, texts))
        needed.update(zip(hashes, texts, strict=True))
        titles.update((h, article.title) for h in hashes)
    vectors = stored.chunk_vectors(list(needed))
    todo.report.chunks_reused = sum(1 for *_, hs, _ in planned for h in hs if h in vectors)
    missing = [h for h in needed if h not in vectors]
    todo.report.chunks_embedded = len(missing)
    everything = [c for _, _, own, _, _ in planned for c in own]
    if chunking.derived:
        key_of = {
            (c.doc_id, c.ordinal): h for *_, own, hs, _ in planned for c, h in zip(own, hs, strict=True)
        }
        wanted = set(missing)
        todo_chunks = (
            everything if sentences else [c for c in everything if key_of[(c.doc_id, c.ordinal)] in wanted]
        )
        per_chunk, sentence_vectors, title_vectors, words = _sentences(
            todo_chunks,
            embedder,
            stored,
            titles={titles[h] for h in missing},
            progress=_scaled(progress, len(missing)),
        )
        vectors.update(_derive(missing, key_of, per_chunk, sentence_vectors, title_vectors, titles, words))
        leftover = [h for h in missing if h not in vectors]  # chunks without a sentence: encoded
        if leftover:
            fresh = embedder.embed([needed[h] for h in leftover])
            vectors.update({h: fresh[i].tobytes() for i, h in enumerate(leftover)})
        if not sentences:
            per_chunk, sentence_vectors = {}, {}
    else:
        if missing:
            fresh = embedder.embed([needed[h] for h in missing], progress=progress)
            vectors.update({h: fresh[i].tobytes() for i, h in enumerate(missing)})
        per_chunk, sentence_vectors = _sentences(everything, embedder, stored)[:2] if sentences else ({}, {})
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


def _derive(
    missing: Sequence[str],
    key_of: Mapping[tuple[str, int], str],
    per_chunk: Mapping[tuple[str, int], tuple[str, ...]],
    sentence_vectors: Mapping[str, bytes],
    title_vectors: Mapping[str, np.ndarray],
    titles: Mapping[str, str],
    words: Mapping[str, int],
) -> dict[str, bytes]:
    """Derived vectors for the ``missing`` chunk keys that have sentences (see the module docstring);
    ``words``: each sentence hash's word count."""
    wanted = set(missing)
    out: dict[str, bytes] = {}
    for where, hashes in per_chunk.items():
        key = key_of.get(where)
        if key is None or key not in wanted or key in out or not hashes:
            continue
        rows = [np.frombuffer(sentence_vectors[h], dtype=np.float32) for h in hashes]
        weights = [words[h] for h in hashes]
        title = titles[key]
        if title and title in title_vectors:
            rows.append(title_vectors[title])
            weights.append(len(title.split()))
        m = np.vstack(rows).astype(np.float64)
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        vector = (np.sqrt(np.maximum(np.asarray(weights, dtype=np.float64), 1.0))[:, None] * m).sum(axis=0)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        out[key] = vector.astype(np.float32).tobytes()
    return out


def _scaled(progress: Callable[[int], None] | None, chunks: int) -> Callable[[int, int], None] | None:
    """Sentence progress ``(done, total)`` reported as chunks: derived chunks are done when their sentences are."""
    if progress is None:
        return None
    told = 0

    def tell(done: int, total: int) -> None:
        nonlocal told
        now = chunks if total <= 0 else min(chunks, done * chunks // total)
        if now > told:
            progress(now - told)
            told = now

    return tell


def _sentences(
    chunks: list[Chunk],
    embedder: Embedder,
    stored: StoredVectors,
    *,
    titles: set[str] | frozenset[str] = frozenset(),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[tuple[str, int], tuple[str, ...]], dict[str, bytes], dict[str, np.ndarray], dict[str, int]]:
    """Each chunk's sentence hashes, a vector for every hash (stored ones reused), the
    ``titles``' vectors (embedded in the same length-sorted call, never stored) and each
    hash's word count.
    ``progress(done, total)`` follows the texts embedded."""
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
    named = sorted(t for t in titles if t)
    total = len(missing) + len(named)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    title_vectors: dict[str, np.ndarray] = {}
    if total:
        fresh = embedder.embed(
            [texts[h] for h in missing] + named, batch_size=64, progress=tick if progress else None
        )
        vectors.update({h: fresh[i].tobytes() for i, h in enumerate(missing)})
        title_vectors = {t: fresh[len(missing) + i] for i, t in enumerate(named)}
    if progress is not None:
        progress(total, total)
    return per_chunk, vectors, title_vectors, {h: len(t.split()) for h, t in texts.items()}
