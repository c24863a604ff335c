"""The store stage: what ingest wrote, for retrieval to read.

:class:`Store` (``qa.store.store``) is the interface; behind it the record store
(``records``: SQLite documents, chunks, sentence vectors), the vector index
(``vectors``: FAISS base files and snapshots, over ``segments``' layered
metadata and vectors and ``keywords``' BM25), the metadata ``filters`` and the
consistency ``check``.
Reads return dataclasses: :class:`Snapshot`, :class:`ChunkRecord`,
:class:`StoredDocument`.
"""

from qa.store.filters import Filters
from qa.store.records import STORE_NAME, ChunkMeta, ChunkRecord, StoredDocument
from qa.store.store import BUILD_HINT, Store, Writer, index_exists
from qa.store.vectors import Snapshot

__all__ = [
    "BUILD_HINT",
    "STORE_NAME",
    "ChunkMeta",
    "ChunkRecord",
    "Filters",
    "Snapshot",
    "Store",
    "StoredDocument",
    "Writer",
    "index_exists",
]
