"""``qa check`` on Milvus: chunks, documents and vectors in the three collections agree.

Every chunk belongs to a stored document and to its current version (content
hash), each document's chunk count is what is stored, every chunk's span quotes
its document exactly, every chunk has a vector of the model's dimension, and no
two chunks share an id.  Read with Strong consistency; a writer at work
meanwhile may show as a transient problem (a re-run of the check settles it).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.store.milvus import MilvusStore


def problems(store: MilvusStore) -> list[str]:
    """What disagrees inside ``store``'s collections; empty when consistent."""
    found: list[str] = []
    documents = {
        r["id"]: r for r in store.query_all("documents", ["id", "text", "content_hash", "chunk_count"])
    }
    chunks = list(
        store.query_all("chunks", ["id", "doc_id", "start", "end", "text", "content_hash", "dense"])
    )
    ids = Counter(int(c["id"]) for c in chunks)
    duplicates = sum(1 for n in ids.values() if n > 1)
    if duplicates:
        found.append(f"{duplicates} duplicate chunk ids")
    orphans = [c for c in chunks if c["doc_id"] not in documents]
    if orphans:
        found.append(f"{len(orphans)} chunks of missing documents")
    stale = [
        c
        for c in chunks
        if c["doc_id"] in documents and c["content_hash"] != documents[c["doc_id"]]["content_hash"]
    ]
    if stale:
        found.append(f"{len(stale)} chunks of a replaced version of their document")
    per_doc = Counter(c["doc_id"] for c in chunks)
    wrong_count = [d for d, row in documents.items() if int(row["chunk_count"]) != per_doc.get(d, 0)]
    if wrong_count:
        found.append(f"{len(wrong_count)} documents whose chunk count differs from their stored chunks")
    texts = {d: "".join(row["text"]) for d, row in documents.items()}
    bad_spans = sum(
        1
        for c in chunks
        if c["doc_id"] in texts and texts[c["doc_id"]][int(c["start"]) : int(c["end"])] != c["text"]
    )
    if bad_spans:
        found.append(f"{bad_spans} chunks whose span does not match their document")
    bad_vectors = sum(1 for c in chunks if len(c["dense"]) != store.dimension)
    if bad_vectors:
        found.append(f"{bad_vectors} chunks without a vector of {store.dimension} dimensions")
    return found
