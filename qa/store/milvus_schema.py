"""The Milvus collections qa creates, their schema, and filters as Milvus filter expressions.

Three collections, named ``<QA_MILVUS_COLLECTION>_<name>``:

``chunks``     ``id`` INT64 primary key (derived from the document's content hash and the
               chunk's ordinal, so a re-run writes the same ids), ``doc_id``, ``ordinal``,
               ``start``/``end`` (the span in the document), ``text`` (the chunk),
               ``keywords`` (title + text as stemmed tokens, standard analyzer; a BM25
               ``Function`` fills ``sparse``), ``title``, ``source``, ``source_key`` (casefolded, for filters),
               ``published_at`` (ISO date, "" if undated: sorts as text), ``content_hash``
               (the document version), ``embed_hash`` (of the embedded text),
               ``dense`` FLOAT_VECTOR (inner product), ``sparse`` SPARSE_FLOAT_VECTOR (BM25).
``documents``  ``id`` VARCHAR primary key, ``title``, ``source``, ``published_at``, ``url``,
               ``text`` (ARRAY of VARCHAR parts: a VARCHAR holds at most 65,535 bytes),
               ``content_hash``, ``chunk_count``, ``added_at``, ``updated_at``, and a
               2-dimensional placeholder vector (Milvus requires a vector field).
``sentences``  ``hash`` VARCHAR primary key (model + sentence text), ``vector`` FLOAT_VECTOR.

Model and dimension are recorded in the chunks collection's properties and
checked at open (``ModelMismatch``), as the embedded store does.  User strings
enter an expression only through :func:`literal` (quoted, escaped; Milvus Lite
3.2 does not bind ``filter_params`` templates, so qa does not rely on them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from pymilvus import DataType, Function, FunctionType, MilvusClient

from qa.store.filters import Filters

TEXT_PART = 16000  # characters per part of a document's text: at most 64,000 bytes in UTF-8
MAX_PARTS = 256
VARCHAR = 65535
MODEL_PROPERTY = "qa.model"
# ``keywords`` holds bm25s's tokens (stop words out, Snowball stems) joined by spaces, and questions
# are tokenized the same way, so Milvus's standard analyzer only splits on the spaces: BM25 sees the
# embedded store's tokens (Milvus Lite 3.2 ignores analyzer filters such as stemmers).
ANALYZER: dict[str, Any] = {"tokenizer": "standard", "filter": ["lowercase"]}
CHUNK_FIELDS = [
    "id",
    "doc_id",
    "ordinal",
    "start",
    "end",
    "text",
    "title",
    "source",
    "published_at",
    "content_hash",
]
DOCUMENT_FIELDS = [
    "id",
    "title",
    "source",
    "published_at",
    "url",
    "text",
    "content_hash",
    "chunk_count",
    "added_at",
    "updated_at",
]


def chunk_id(content_hash: str, ordinal: int) -> int:
    """A chunk's INT64 id: 63 bits of SHA-256 over its document version and ordinal."""
    digest = hashlib.sha256(f"{content_hash}:{ordinal}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def split_text(text: str) -> list[str]:
    return [text[i : i + TEXT_PART] for i in range(0, len(text), TEXT_PART)] or [""]


def create_collections(client: MilvusClient, names: dict[str, str], model: str, dimension: int) -> None:
    """Create whichever of the three collections is missing, with indexes, and load them.

    The chunks collection last: its existence is what says "there is an index here"
    (:func:`qa.store.milvus.milvus_index_exists`), so a replica opening it finds the other two.
    """
    if not client.has_collection(names["documents"]):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
        schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("published_at", DataType.VARCHAR, max_length=64)
        schema.add_field("url", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_field(
            "text",
            DataType.ARRAY,
            element_type=DataType.VARCHAR,
            max_capacity=MAX_PARTS,
            max_length=VARCHAR,
        )
        schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("chunk_count", DataType.INT64)
        schema.add_field("added_at", DataType.DOUBLE)
        schema.add_field("updated_at", DataType.DOUBLE)
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
        index = client.prepare_index_params()
        index.add_index("placeholder", index_type="FLAT", metric_type="L2")
        client.create_collection(names["documents"], schema=schema, index_params=index)
    if not client.has_collection(names["sentences"]):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("hash", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        client.create_collection(names["sentences"], schema=schema, index_params=index)
    if not client.has_collection(names["chunks"]):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_field(
            "keywords",
            DataType.VARCHAR,
            max_length=VARCHAR,
            enable_analyzer=True,
            analyzer_params=ANALYZER,
        )
        schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("source_key", DataType.VARCHAR, max_length=1024)
        schema.add_field("published_at", DataType.VARCHAR, max_length=64)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("embed_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="keywords_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["keywords"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("dense", index_type="AUTOINDEX", metric_type="IP")
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": 1.5, "bm25_b": 0.75},
        )
        for scalar in ("doc_id", "embed_hash", "source_key", "published_at"):
            index.add_index(scalar, index_type="INVERTED")
        # The model goes in with the collection (one request): a replica that sees the collection sees it.
        client.create_collection(
            names["chunks"],
            schema=schema,
            index_params=index,
            properties={MODEL_PROPERTY: json.dumps({"model": model, "dimension": dimension})},
        )


def stored_model(client: MilvusClient, chunks: str) -> dict[str, Any]:
    """The model and dimension recorded in the chunks collection's properties."""
    recorded = (client.describe_collection(chunks).get("properties") or {}).get(MODEL_PROPERTY) or "{}"
    try:
        found = json.loads(recorded)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def literal(value: str | int) -> str:
    """``value`` as a Milvus expression literal: an int as digits, a string double-quoted and escaped.

    Backslash, quote, newline, carriage return and tab are escaped; any other control
    character is refused (``ValueError``): Milvus Lite accepts no ``\\u`` escape.
    """
    if isinstance(value, int):
        return str(int(value))
    if any((ord(ch) < 0x20 and ch not in "\n\r\t") or ord(ch) == 0x7F for ch in value):
        raise ValueError("a control character can't be part of a Milvus filter value")
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def in_list(field: str, values: Sequence[str | int]) -> str:
    """``field in [...]`` with every value a literal (values with control characters match nothing)."""
    parts = []
    for value in values:
        with contextlib.suppress(ValueError):
            parts.append(literal(value))
    return f"{field} in [{', '.join(parts)}]"


def filter_expression(filters: Filters) -> str:
    """``filters`` as a Milvus filter expression over the chunks collection ("" for none).

    Same rules as :meth:`Filters.allows`: sources match casefolded, undated chunks
    (``published_at`` "") fail a date range and pass an as-of date.
    """
    parts: list[str] = []
    if filters.sources:
        parts.append(in_list("source_key", sorted({s.casefold() for s in filters.sources})))
    # Dates are validated ISO dates by then; literal() escapes them all the same.
    if filters.published_after:
        parts.append(f'(published_at != "" and published_at >= {literal(filters.published_after)})')
    if filters.published_before:
        parts.append(f'(published_at != "" and published_at <= {literal(filters.published_before)})')
    if filters.as_of:
        parts.append(f'(published_at == "" or published_at <= {literal(filters.as_of)})')
    return " and ".join(parts)
