"""The store interface: what the pipeline, retrieval, the answer stages and the server ask of a store.

Two implementations: :class:`qa.store.store.Store` (FAISS + SQLite files in the
index directory, the default) and :class:`qa.store.milvus.MilvusStore` (a
Milvus server or a Milvus Lite file), chosen by ``QA_STORE``
(:func:`qa.store.open.open_store`).  Nothing above the store names either one.
Writes arrive prepared by the ingest stages (:class:`qa.ingest.embed.PreparedWrite`);
searches arrive as a :class:`qa.store.ranking.SearchRequest`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from qa.ingest.embed import DocumentState, PreparedWrite
from qa.store.ranking import SearchRequest
from qa.store.records import ChunkRecord, StoredDocument
from qa.types import Passage


class StoreWriter(Protocol):
    """What a writer may do inside :meth:`ChunkStore.writer` (the embed stage's questions, then one write)."""

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        """The stored content hash and metadata of each of ``doc_ids`` that exists."""
        ...

    def chunk_vectors(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored chunk vectors (float32 bytes) by embedding-text hash: which hashes exist."""
        ...

    def sentence_vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Stored sentence vectors (float32 bytes) by sentence hash."""
        ...

    def write(self, prepared: PreparedWrite) -> None:
        """Store ``prepared``: its documents replace their stored versions, relabels update metadata."""
        ...


class ChunkStore(Protocol):
    """Documents, chunks and vectors, searchable; safe for concurrent readers and writers."""

    model_name: str

    def writer(self) -> contextlib.AbstractContextManager[StoreWriter]:
        """Hold the store's write lock for one prepare-and-write."""
        ...

    def search(self, request: SearchRequest) -> list[Passage]:
        """The best passages for a request (dense, BM25 or hybrid; filters; as-of), best first."""
        ...

    def size(self) -> int:
        """Live chunks (0: nothing to search)."""
        ...

    def warm_up(self) -> None:
        """Load what the first search would (a no-op where the engine keeps it loaded)."""
        ...

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunks with their document's metadata, by chunk id (deleted ids are absent)."""
        ...

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given sentence texts (those that were embedded at ingest)."""
        ...

    def list_documents(
        self, *, offset: int = 0, limit: int = 50, source: str | None = None
    ) -> tuple[int, list[StoredDocument]]:
        """A page of documents ordered by id, and the total count."""
        ...

    def get_document(self, doc_id: str) -> StoredDocument:
        """One document; ``NotFound`` if there is none with that id."""
        ...

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Delete documents and their chunks; returns the ids that existed."""
        ...

    def stats(self) -> dict[str, object]:
        """Documents, chunks, model, dimension and generation."""
        ...

    def check_consistency(self) -> list[str]:
        """What disagrees inside the store (vectors, chunks, documents); empty when consistent."""
        ...

    def compact(self) -> None:
        """Make what was written durable and cheap to load (after a batch ingest)."""
        ...

    def close(self) -> None: ...
