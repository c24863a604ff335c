"""The store stage: what ingest wrote, for retrieval to read.

:class:`ChunkStore` (``qa.store.interface``) is the interface, opened by
:func:`open_store` as ``QA_STORE`` says: the FAISS + SQLite :class:`Store`
(``qa.store.store``, the default) or Milvus (``qa.store.milvus``).  Searches are
:class:`SearchRequest` s, scored alike by both (``ranking``).  Behind :class:`Store` the record store
(``records``: SQLite documents, chunks, sentence vectors), the vector index
(``vectors``: FAISS base files and snapshots, over ``segments``' layered
metadata and vectors and ``keywords``' BM25), the metadata ``filters`` and the
consistency ``check``.
Reads return dataclasses: :class:`Snapshot`, :class:`ChunkRecord`,
:class:`StoredDocument`.
"""

from qa.store.filters import Filters
from qa.store.interface import ChunkStore, StoreWriter
from qa.store.open import open_store, store_exists
from qa.store.ranking import Mode, SearchRequest
from qa.store.records import STORE_NAME, ChunkMeta, ChunkRecord, StoredDocument
from qa.store.store import BUILD_HINT, Store, Writer, index_exists
from qa.store.vectors import Snapshot

__all__ = [
    "BUILD_HINT",
    "STORE_NAME",
    "ChunkMeta",
    "ChunkRecord",
    "ChunkStore",
    "Filters",
    "Mode",
    "SearchRequest",
    "Snapshot",
    "Store",
    "StoreWriter",
    "StoredDocument",
    "Writer",
    "index_exists",
    "open_store",
    "store_exists",
]
