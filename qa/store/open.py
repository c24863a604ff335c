"""Which store a deployment uses (``QA_STORE``): open it, or ask whether one exists.

The only module above the engines that names them: everything else holds a
:class:`qa.store.interface.ChunkStore`.  ``pymilvus`` is imported only when
``QA_STORE=milvus``.
"""

from __future__ import annotations

from qa.config import Settings
from qa.errors import IndexNotBuilt
from qa.store.interface import ChunkStore
from qa.store.store import BUILD_HINT, Model, Store, index_exists


def store_exists(settings: Settings) -> bool:
    """True if the configured store holds an index (FAISS: the directory; Milvus: the collections)."""
    if settings.store == "milvus":
        from qa.store.milvus import milvus_index_exists

        return milvus_index_exists(settings)
    return index_exists(settings.index_dir)


def open_store(settings: Settings, model: Model, *, create: bool = False) -> ChunkStore:
    """The configured store; ``IndexNotBuilt`` if there is none and ``create`` is false."""
    if not create and not store_exists(settings):
        where = (
            settings.milvus_uri or settings.index_dir if settings.store == "milvus" else settings.index_dir
        )
        raise IndexNotBuilt(f"no index in {where}: build it with `{BUILD_HINT}`")
    if settings.store == "milvus":
        from qa.store.milvus import MilvusStore

        return MilvusStore(settings, model, create=create)
    return Store(
        settings.index_dir,
        model,
        ann_threshold=settings.ann_threshold,
        ann_index=settings.ann_index,
        float16=settings.vector_dtype == "float16",
        create=create,
    )
