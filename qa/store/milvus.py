"""The store on Milvus: the :class:`qa.store.interface.ChunkStore` interface over pymilvus ``MilvusClient``.

``QA_STORE=milvus`` selects it; ``QA_MILVUS_URI`` is a Milvus server
(``http://host:19530``) or a Milvus Lite file (default ``<QA_INDEX_DIR>/milvus.db``),
with ``QA_MILVUS_TOKEN``, ``QA_MILVUS_DB`` and ``QA_MILVUS_COLLECTION`` (the
collections' prefix; schema in :mod:`qa.store.milvus_schema`).  Same code for
both: only the URI differs.

Search runs inside Milvus: dense (inner product) and BM25 (Milvus's own
analyzer and ``Function``) as one ``hybrid_search`` with an RRF ranker, with the
metadata filters pushed down as a filter expression.  With an as-of date each
ranking is scaled by recency *before* fusion (:mod:`qa.store.ranking`), which no
Milvus ranker does, so then the two filtered searches run in Milvus and their
candidates are fused here, with the same code as the embedded store.

Writes are idempotent upserts: chunk ids derive from the document's content hash
and the chunk's ordinal, so a writer that died mid-ingest is completed by a
re-run of the same ingest.  Order per write: sentence vectors, then all new
chunks (upserts of about 500 rows, never splitting a document's chunks across
requests), then stale chunks of the rewritten documents deleted, then the document rows.  The document row (whose content hash decides
whether a re-ingest is work) is written last, so until it is, a re-run redoes
the document.  A search at any moment sees a document's previous chunks, its new
ones, or briefly both (between the upsert and the delete).  Every passage is a
whole chunk row, its text and span from the same row, and the documents API
reads the one document row, so neither serves part of a version; that a
search never sees part of one upsert request is Milvus's to keep (it stamps
a request's rows with the request's timestamp), not tested under load here.  Writers in one process take turns; writers in
several processes take no lock, so two writing *different* versions of one
article at once can delete each other's chunks (``qa check`` reports it, a
re-ingest repairs it).

Consistency level: **Strong** for every read.  Milvus stamps each write with a
timestamp; a Strong read waits until every write stamped before the read is
visible, so one replica's write is seen by every other replica's next request
(the delay is the write's own latency).  ``Bounded`` (Milvus's default) would
let a read lag writes by up to a few seconds for lower latency; ``Session``
guarantees only a client's own writes, which is wrong for replicas behind a load
balancer.  Strong costs a wait for the newest timestamp on a busy cluster;
qa's writes are batch ingests, so the wait is rare.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import AnnSearchRequest, MilvusClient, RRFRanker

from qa.config import Settings
from qa.errors import ModelMismatch, NotFound
from qa.ingest.embed import PreparedWrite, sentence_hash
from qa.store import milvus_schema as schema
from qa.store.keywords import tokenize
from qa.store.milvus_check import problems
from qa.store.milvus_write import MilvusWriter, vector_bytes, write
from qa.store.ranking import SearchRequest, passages, rank
from qa.store.records import ChunkRecord, StoredDocument
from qa.store.store import Model
from qa.types import Passage

CONSISTENCY = "Strong"
BATCH = 500  # rows per upsert / ids per "in" filter


def client_for(settings: Settings) -> MilvusClient:
    """A client for the configured Milvus (a Lite file beside the index by default)."""
    uri = settings.milvus_uri or str(Path(settings.index_dir).expanduser().resolve() / "milvus.db")
    if "://" not in uri:
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Milvus Lite's in-process server lacks AllocTimestamp: each query iterator logs a traceback
        # (grpc) and a warning (pymilvus) and then uses a client-side timestamp, which is correct there.
        for name in ("grpc._server", "pymilvus.client.iterator.query_iterator"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    kwargs: dict[str, Any] = {"uri": uri}
    if settings.milvus_token is not None:
        kwargs["token"] = settings.milvus_token.get_secret_value()
    if settings.milvus_db:
        kwargs["db_name"] = settings.milvus_db
    return MilvusClient(**kwargs)


def collection_names(prefix: str) -> dict[str, str]:
    return {name: f"{prefix}_{name}" for name in ("chunks", "documents", "sentences")}


def milvus_index_exists(settings: Settings) -> bool:
    """True if the configured Milvus holds qa's chunks collection."""
    uri = settings.milvus_uri or str(Path(settings.index_dir).expanduser().resolve() / "milvus.db")
    if "://" not in uri and not Path(uri).expanduser().exists():
        return False  # don't create a Lite file just to look
    client = client_for(settings)
    try:
        return bool(client.has_collection(collection_names(settings.milvus_collection)["chunks"]))
    finally:
        client.close()


class MilvusStore:
    """Documents, chunks and vectors in three Milvus collections; see the module docstring."""

    def __init__(self, settings: Settings, model: Model, *, create: bool = False) -> None:
        self.model_name = model.name
        self.dimension = model.dimension
        self.names = collection_names(settings.milvus_collection)
        self.client = client_for(settings)
        self._write_lock = threading.Lock()
        if create:
            schema.create_collections(self.client, self.names, model.name, model.dimension)
        stored = schema.stored_model(self.client, self.names["chunks"])
        if stored.get("model") != model.name or int(stored.get("dimension", -1)) != model.dimension:
            raise ModelMismatch(
                f"the Milvus collections {self.names['chunks']!r} were built with embedding model "
                f"{stored.get('model')!r} ({stored.get('dimension')} dimensions), but qa is configured with "
                f"{model.name!r} ({model.dimension}); set QA_EMBEDDING_MODEL={stored.get('model')} "
                "or use another QA_MILVUS_COLLECTION"
            )
        for name in self.names.values():
            # Another process may have created or released it: a search needs it loaded.
            self.client.load_collection(name)

    # -- low-level reads ---------------------------------------------------------------

    def query_in(
        self, collection: str, field: str, values: Sequence[Any], output: list[str]
    ) -> list[dict[str, Any]]:
        """Rows of ``collection`` whose ``field`` is one of ``values`` (batched; values as escaped literals)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(values), BATCH):
            part = list(dict.fromkeys(values[i : i + BATCH]))
            out.extend(
                self.client.query(
                    self.names[collection],
                    filter=schema.in_list(field, part),
                    output_fields=output,
                    consistency_level=CONSISTENCY,
                )
            )
        return out

    def query_all(self, collection: str, output: list[str], expr: str = "") -> Iterator[dict[str, Any]]:
        """Every row of ``collection`` matching ``expr`` (a query iterator: no result-size limit)."""
        iterator = self.client.query_iterator(
            self.names[collection],
            batch_size=1000,
            filter=expr,
            output_fields=output,
            consistency_level=CONSISTENCY,
        )
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    return
                yield from batch
        finally:
            iterator.close()

    def count(self, collection: str, expr: str = "") -> int:
        rows = self.client.query(
            self.names[collection],
            filter=expr,
            output_fields=["count(*)"],
            consistency_level=CONSISTENCY,
        )
        return int(rows[0]["count(*)"]) if rows else 0

    # -- writes --------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self) -> Iterator[MilvusWriter]:
        """One writer at a time in this process; across processes, writes are idempotent upserts."""
        with self._write_lock:
            yield MilvusWriter(self)

    def write(self, prepared: PreparedWrite) -> None:
        """Upsert ``prepared`` (:func:`qa.store.milvus_write.write`)."""
        write(self, prepared)

    def upsert(self, collection: str, rows: list[dict[str, Any]], group: str | None = None) -> None:
        """Upsert ``rows`` in requests of about ``BATCH``; rows sharing ``group``'s value stay in one request."""
        batch: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            batch.append(row)
            last = i + 1 == len(rows)
            if last or (len(batch) >= BATCH and (group is None or rows[i + 1][group] != row[group])):
                self.client.upsert(self.names[collection], batch)
                batch = []

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Delete documents and their chunks (chunks first); returns the ids that existed."""
        wanted = list(dict.fromkeys(doc_ids))
        with self._write_lock:
            found = sorted(r["id"] for r in self.query_in("documents", "id", wanted, ["id"]))
            for i in range(0, len(found), BATCH):
                part = found[i : i + BATCH]
                self.client.delete(self.names["chunks"], filter=schema.in_list("doc_id", part))
                self.client.delete(self.names["documents"], filter=schema.in_list("id", part))
        return [d for d in wanted if d in set(found)]

    def compact(self) -> None:
        """Seal what was written (``flush``): durable segments a fresh process loads without replay."""
        for name in self.names.values():
            self.client.flush(name)

    # -- search ----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> list[Passage]:
        """Dense + BM25 in Milvus, filters pushed down; RRF in Milvus unless an as-of date needs recency."""
        expr = schema.filter_expression(request.filters)
        output = schema.CHUNK_FIELDS
        words = " ".join(tokenize([request.question])[0]) if request.lexical else ""
        searches: list[AnnSearchRequest] = []
        if request.dense:
            vector = np.asarray(request.question_vector(), dtype=np.float32).reshape(-1).tolist()
            searches.append(
                AnnSearchRequest([vector], "dense", {"metric_type": "IP"}, request.pool, expr=expr or None)
            )
        if words:  # a question of stop words only has no keyword ranking (as on the embedded store)
            searches.append(
                AnnSearchRequest([words], "sparse", {"metric_type": "BM25"}, request.pool, expr=expr or None)
            )
        if not searches:
            return []
        rows: dict[int, dict[str, Any]] = {}
        if len(searches) == 2 and not request.filters.as_of:
            hits = self.client.hybrid_search(
                self.names["chunks"],
                searches,
                RRFRanker(request.rrf_k),
                limit=request.pool,
                output_fields=output,
                consistency_level=CONSISTENCY,
            )[0]
            fused = {}
            for hit in hits:
                rows[int(hit["id"])] = hit["entity"]
                fused[int(hit["id"])] = float(hit["distance"])
        else:
            lists = []
            for one in searches:
                hits = self.client.search(
                    self.names["chunks"],
                    data=one.data,
                    anns_field=one.anns_field,
                    search_params=one.param,
                    limit=request.pool,
                    filter=expr,
                    output_fields=output,
                    consistency_level=CONSISTENCY,
                )[0]
                scores = {}
                for hit in hits:
                    # Milvus Lite reports BM25 as a negative distance, a server as a positive score.
                    score = (
                        float(hit["distance"]) if one.anns_field == "dense" else abs(float(hit["distance"]))
                    )
                    if score > 0 or one.anns_field == "dense":
                        rows[int(hit["id"])] = hit["entity"]
                        scores[int(hit["id"])] = score
                lists.append(scores)
            fused = rank(request, lists, lambda i: rows[i]["published_at"] or None)
        return passages(fused, request.k, lambda ids: {i: _record(rows[i]) for i in ids})

    def size(self) -> int:
        return self.count("chunks")

    def warm_up(self) -> None:
        """Nothing to build: Milvus keeps its indexes loaded."""

    # -- reads -------------------------------------------------------------------------------

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        rows = self.query_in("chunks", "id", [int(i) for i in chunk_ids], schema.CHUNK_FIELDS)
        return {int(r["id"]): _record(r) for r in rows}

    def sentence_vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        rows = self.query_in("sentences", "hash", list(hashes), ["hash", "vector"])
        return {r["hash"]: vector_bytes(r["vector"]) for r in rows}

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = {sentence_hash(self.model_name, t): t for t in texts}
        found = self.sentence_vectors_by_hash(list(wanted))
        return {wanted[h]: np.frombuffer(v, dtype=np.float32) for h, v in found.items()}

    def stats(self) -> dict[str, object]:
        return {
            "documents": self.count("documents"),
            "chunks": self.count("chunks"),
            "model": self.model_name,
            "dimension": self.dimension,
            "generation": 0,  # Milvus orders writes by timestamp; there is no generation counter
        }

    def get_document(self, doc_id: str) -> StoredDocument:
        rows = self.query_in("documents", "id", [doc_id], schema.DOCUMENT_FIELDS)
        if not rows:
            raise NotFound(f"no document with id {doc_id!r}")
        return _document(rows[0])

    def list_documents(
        self, *, offset: int = 0, limit: int = 50, source: str | None = None
    ) -> tuple[int, list[StoredDocument]]:
        """A page ordered by id: the ids are read (and sorted) here, then the page's rows."""
        try:
            expr = f"source == {schema.literal(source)}" if source else ""
        except ValueError:  # a control character: no stored source has one that Milvus could match
            return 0, []
        ids = sorted(r["id"] for r in self.query_all("documents", ["id"], expr))
        page = ids[offset : offset + limit]
        rows = {r["id"]: r for r in self.query_in("documents", "id", page, schema.DOCUMENT_FIELDS)}
        return len(ids), [_document(rows[i]) for i in page if i in rows]

    def check_consistency(self) -> list[str]:
        return problems(self)

    def close(self) -> None:
        self.client.close()


def _record(row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(
        int(row["id"]),
        row["doc_id"],
        int(row["start"]),
        int(row["end"]),
        row["text"],
        row["title"],
        row["source"],
        row["published_at"] or None,
    )


def _document(row: dict[str, Any]) -> StoredDocument:
    return StoredDocument(
        row["id"],
        row["title"],
        row["source"],
        row["published_at"] or None,
        row["url"],
        "".join(row["text"]),
        int(row["chunk_count"]),
        float(row["added_at"]),
        float(row["updated_at"]),
    )
