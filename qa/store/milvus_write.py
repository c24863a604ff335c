"""Writes to the Milvus store: the embed stage's questions and the one idempotent write.

:class:`MilvusWriter` is what :meth:`qa.store.milvus.MilvusStore.writer` yields
(the :class:`qa.store.interface.StoreWriter` of the Milvus store); :func:`write`
upserts a :class:`qa.ingest.embed.PreparedWrite` in the crash-safe order the
store's docstring gives: sentence vectors, new chunks, stale chunks deleted,
relabelled chunks, then the document rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.ingest.embed import DocumentState, PreparedWrite
from qa.store import milvus_schema as schema
from qa.store.keywords import tokenize

if TYPE_CHECKING:
    from qa.store.milvus import MilvusStore

STALE_PER_DELETE = 100  # documents per delete of stale chunks


def vector_bytes(value: Any) -> bytes:
    return np.asarray(value, dtype=np.float32).tobytes()


class MilvusWriter:
    """The embed stage's questions and the one write, on Milvus (see :class:`MilvusStore.writer`)."""

    def __init__(self, store: MilvusStore) -> None:
        self._store = store

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        rows = self._store.query_in(
            "documents", "id", list(doc_ids), ["id", "content_hash", "source", "published_at", "url"]
        )
        return {
            r["id"]: DocumentState(r["content_hash"], r["source"], r["published_at"] or None, r["url"])
            for r in rows
        }

    def chunk_vectors(self, hashes: Sequence[str]) -> dict[str, bytes]:
        rows = self._store.query_in("chunks", "embed_hash", list(hashes), ["embed_hash", "dense"])
        return {r["embed_hash"]: vector_bytes(r["dense"]) for r in rows}

    def sentence_vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        return self._store.sentence_vectors_by_hash(hashes)

    def write(self, prepared: PreparedWrite) -> None:
        if prepared:
            self._store.write(prepared)


def write(
    store: MilvusStore, prepared: PreparedWrite, times: dict[str, tuple[float, float]] | None = None
) -> None:
    """Upsert ``prepared`` in the crash-safe order of :mod:`qa.store.milvus`'s docstring.

    ``times`` gives documents' ``(added_at, updated_at)`` to keep (a migration); others get now.
    """
    now = time.time()
    times = times or {}
    if prepared.sentence_vectors:
        rows = [
            {"hash": h, "vector": np.frombuffer(v, dtype=np.float32).tolist()}
            for h, v in prepared.sentence_vectors.items()
        ]
        store.upsert("sentences", rows)
    chunks: list[dict[str, Any]] = []
    texts = {e.embed_hash: e.keywords_text for d in prepared.documents for e in d.chunks}
    tokens = dict(zip(texts, (" ".join(t) for t in tokenize(list(texts.values()))), strict=True))
    for doc in prepared.documents:
        a = doc.article
        for e in doc.chunks:
            c = e.chunk
            chunks.append(
                {
                    "id": schema.chunk_id(doc.content_hash, c.ordinal),
                    "doc_id": a.id,
                    "ordinal": c.ordinal,
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "keywords": tokens[e.embed_hash],
                    "title": a.title,
                    "source": a.source,
                    "source_key": a.source.casefold(),
                    "published_at": a.published_at or "",
                    "content_hash": doc.content_hash,
                    "embed_hash": e.embed_hash,
                    "dense": np.frombuffer(e.vector, dtype=np.float32).tolist(),
                }
            )
    store.upsert("chunks", chunks, group="doc_id")
    for i in range(0, len(prepared.documents), STALE_PER_DELETE):
        # One delete per group of documents: each document's chunks of any other version.
        store.client.delete(
            store.names["chunks"],
            filter=" or ".join(
                f"(doc_id == {schema.literal(doc.article.id)} "
                f"and content_hash != {schema.literal(doc.content_hash)})"
                for doc in prepared.documents[i : i + STALE_PER_DELETE]
            ),
        )
    relabel = _relabelled(store, prepared)
    store.upsert("chunks", relabel)
    added = _added_at(store, [d.article.id for d in prepared.documents] + [a.id for a in prepared.relabel])
    documents = []
    for doc in prepared.documents:
        a = doc.article
        documents.append(
            _document_row(
                a.id,
                a.title,
                a.source,
                a.published_at,
                a.url,
                a.text,
                doc.content_hash,
                len(doc.chunks),
                times.get(a.id, (added.get(a.id, (now, 0))[0], now))[0],
                times.get(a.id, (now, now))[1],
            )
        )
    stored = {
        r["id"]: r
        for r in store.query_in("documents", "id", [a.id for a in prepared.relabel], schema.DOCUMENT_FIELDS)
    }
    for a in prepared.relabel:
        old = stored[a.id]
        documents.append(
            _document_row(
                a.id,
                old["title"],
                a.source,
                a.published_at,
                a.url,
                "".join(old["text"]),
                old["content_hash"],
                int(old["chunk_count"]),
                float(old["added_at"]),
                now,
            )
        )
    store.upsert("documents", documents)


def _relabelled(store: MilvusStore, prepared: PreparedWrite) -> list[dict[str, Any]]:
    """The chunks of relabelled articles, with the new source and date (vectors and text kept)."""
    if not prepared.relabel:
        return []
    by_id = {a.id: a for a in prepared.relabel}
    fields = [*schema.CHUNK_FIELDS, "keywords", "embed_hash", "dense"]
    rows = store.query_in("chunks", "doc_id", list(by_id), fields)
    for row in rows:
        a = by_id[row["doc_id"]]
        row.update(source=a.source, source_key=a.source.casefold(), published_at=a.published_at or "")
        row["dense"] = np.asarray(row["dense"], dtype=np.float32).tolist()
    return rows


def _added_at(store: MilvusStore, doc_ids: list[str]) -> dict[str, tuple[float, int]]:
    rows = store.query_in("documents", "id", doc_ids, ["id", "added_at"])
    return {r["id"]: (float(r["added_at"]), 0) for r in rows}


def _document_row(
    doc_id: str,
    title: str,
    source: str,
    published_at: str | None,
    url: str,
    text: str,
    content_hash: str,
    chunk_count: int,
    added_at: float,
    updated_at: float,
) -> dict[str, Any]:
    return {
        "id": doc_id,
        "title": title,
        "source": source,
        "published_at": published_at or "",
        "url": url,
        "text": schema.split_text(text),
        "content_hash": content_hash,
        "chunk_count": chunk_count,
        "added_at": added_at,
        "updated_at": updated_at,
        "placeholder": [0.0, 0.0],
    }
