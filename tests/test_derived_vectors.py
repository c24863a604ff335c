"""Chunk vectors derived from sentence vectors (``QA_CHUNK_VECTORS=derived``) and encoded (the default)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from qa.ingest.chunk import sentence_spans
from qa.models.embedding import SentenceTransformerEmbedder
from qa.types import Article
from tests.conftest import embedded_texts, make_pipeline

ARTICLE = Article(
    id="derive-1",
    title="Harbour bridge reopens after storm repairs",
    text=(
        "The harbour bridge reopened on Monday after six weeks of repairs. "
        "Engineers replaced two damaged cables and resurfaced the deck. "
        "The city council said the work cost 4.2 million dollars. "
        "Ferries had carried commuters across the bay while the bridge was closed. "
        "Traffic returned to normal levels by the evening rush hour. "
        "A storm in early October had torn loose a section of railing. "
        "Inspectors found rust on the north tower's anchor bolts. "
        "The mayor thanked residents for their patience during the closure. "
        "Cyclists will get a separate lane on the bridge from next spring. "
        "The port authority plans a second inspection in January. "
        "Local shops near the ferry terminal reported a rise in sales. "
        "The bridge first opened to traffic in 1932."
    ),
    source="Test Wire",
    published_at="2026-11-01",
)


def _chunks(index: Path) -> list[tuple[str, np.ndarray]]:
    with sqlite3.connect(index / "store.sqlite") as db:
        rows = db.execute("SELECT text, vector FROM chunks ORDER BY doc_id, ordinal").fetchall()
    return [(text, np.frombuffer(blob, dtype=np.float32)) for text, blob in rows]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_derived_chunk_vector_weighs_sentences_and_title_by_their_length(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder, chunk_words=40, chunk_vectors="derived")
    done: list[int] = []
    with embedded_texts(pipeline) as calls:
        report = pipeline.add_articles([ARTICLE], done.append)
    chunks = _chunks(pipeline.index_dir)
    assert len(chunks) >= 3 and report.chunks_embedded == len(chunks)
    # No chunk text was encoded: one call, the distinct sentences and the title.
    embedded = [t for call in calls for t in call]
    assert ARTICLE.title in embedded
    assert not any(text in embedded or f"{ARTICLE.title}\n{text}" in embedded for text, _ in chunks)
    assert sum(done) == len(chunks)  # progress counts chunks, as with encoded vectors
    title = embedder.embed([ARTICLE.title])[0]
    stored = pipeline.store.sentence_vectors([t for text, _ in chunks for t in _sentences(text)])
    for text, vector in chunks:
        parts = [(s, stored[s]) for s in dict.fromkeys(_sentences(text))] + [(ARTICLE.title, title)]
        want = _derived(parts)
        assert float(vector @ want) > 0.9999
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    # It retrieves: the chunk that states the cost ranks first for a question about it.
    top = pipeline.search("How much did the bridge repairs cost?", 1)[0]
    assert "4.2 million" in top.text


def _derived(parts: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Each text's unit vector weighted by the square root of its word count, summed, normalized."""
    return _unit(sum(np.sqrt(len(t.split())) * _unit(v) for t, v in parts))  # type: ignore[arg-type]


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_switching_to_encoded_rewrites_the_article_with_encoded_vectors(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index = tmp_path / "index"
    derived = make_pipeline(index, embedder, chunk_words=40, chunk_vectors="derived")
    derived.add_articles([ARTICLE])
    before = _chunks(index)
    again = derived.add_articles([ARTICLE])
    assert again.unchanged == [ARTICLE.id] and again.chunks_embedded == 0
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(_chunks(index), before, strict=True))
    encoded = make_pipeline(index, embedder, chunk_words=40, chunk_vectors="encoded")
    report = encoded.add_articles([ARTICLE])
    assert report.updated == [ARTICLE.id] and report.chunks_reused == 0
    after = _chunks(index)
    assert [t for t, _ in after] == [t for t, _ in before]
    fresh = embedder.embed([f"{ARTICLE.title}\n{text}" for text, _ in after])
    for (_, vector), want, (_, old) in zip(after, fresh, before, strict=True):
        assert float(vector @ want) > 0.9999  # encoded: the title and chunk text as one text
        assert float(vector @ old) < 0.9999  # not the derived vector kept under another name
    assert encoded.check() == []


def test_derived_without_stored_sentence_vectors(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    pipeline = make_pipeline(
        tmp_path / "index", embedder, chunk_words=40, sentence_vectors=False, chunk_vectors="derived"
    )
    pipeline.add_articles([ARTICLE])
    with sqlite3.connect(pipeline.index_dir / "store.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0] == 0
    chunks = _chunks(pipeline.index_dir)
    title = embedder.embed([ARTICLE.title])[0]
    for text, vector in chunks:
        own = list(dict.fromkeys(_sentences(text)))
        want = _derived([*zip(own, embedder.embed(own), strict=True), (ARTICLE.title, title)])
        assert float(vector @ want) > 0.9999
