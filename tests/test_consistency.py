"""Random add / update / delete sequences keep the SQLite record, the FAISS file and search in step.

A hypothesis state machine drives a real :class:`Pipeline` (real MiniLM, FAISS,
SQLite) and keeps a plain dict of what the index should hold.  After every step
the index must agree with that model, with itself (``check_consistency``), and
with a second :class:`Store` opened cold from the same directory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from qa.ingest.chunk import chunk_article
from qa.models.embedding import SentenceTransformerEmbedder
from qa.pipeline import Pipeline
from qa.store import Store
from qa.types import Article
from tests.conftest import make_pipeline

# A small vocabulary keeps the embedder's work (and its cache misses) cheap and
# makes BM25 and dense queries actually hit the stored documents.
WORDS = ["harbor", "council", "river", "budget", "storm", "vote", "court", "bridge", "school", "train"]
TITLES = ["", "City news", "Weather"]
# Chunks of at most 20 words, so a document of a few sentences spans several chunks
# and an update replaces some of them while reusing others.
CHUNK_WORDS = 20

sentences = st.lists(st.sampled_from(WORDS), min_size=3, max_size=9).map(
    lambda ws: " ".join(ws).capitalize() + "."
)
texts = st.lists(sentences, min_size=1, max_size=5).map(" ".join)
doc_ids = st.sampled_from([f"doc-{i}" for i in range(6)])


def _faiss_ids(index: faiss.Index) -> list[int]:
    return faiss.vector_to_array(index.id_map).tolist() if index.ntotal else []


def _state(index: Store) -> dict[str, object]:
    """Everything a reader can observe, in a comparable form."""
    _, docs = index.list_documents(limit=1000)
    conn = index.records.conn()
    chunks = [
        tuple(r) for r in conn.execute("SELECT id, doc_id, ordinal, start, end, text FROM chunks ORDER BY id")
    ]
    snap = index.snapshot()
    return {
        "documents": [(d.id, d.title, d.text, d.chunk_count) for d in docs],
        "chunks": chunks,
        "generation": snap.generation,
        "faiss_ids": sorted(_faiss_ids(snap.faiss_index)),
    }


class IndexMachine(RuleBasedStateMachine):
    """Applies random writes through the pipeline and checks the index against a dict model."""

    embedder: SentenceTransformerEmbedder

    added = Bundle("added")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="qa-consistency-"))
        self.pipeline: Pipeline = make_pipeline(self.tmp / "index", self.embedder, chunk_words=CHUNK_WORDS)
        self.index = self.pipeline.writable_store()
        self.model: dict[str, Article] = {}

    def teardown(self) -> None:
        self.index.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- writes ----------------------------------------------------------------------

    @rule(target=added, doc_id=doc_ids, text=texts, title=st.sampled_from(TITLES))
    def add_or_update(self, doc_id: str, text: str, title: str) -> str:
        article = Article(doc_id, text, title)
        before = self.model.get(doc_id)
        report = self.pipeline.add_articles([article])
        if before is None:
            assert report.added == [doc_id]
        elif (before.text, before.title) == (text, title):
            assert report.unchanged == [doc_id]
        else:
            assert report.updated == [doc_id]
        self.model[doc_id] = article
        return doc_id

    @rule(doc_id=added, text=texts)
    def update_text(self, doc_id: str, text: str) -> None:
        if doc_id not in self.model:
            return
        old = self.model[doc_id]
        article = Article(doc_id, text, old.title)
        report = self.pipeline.add_articles([article])
        assert report.updated == ([] if text == old.text else [doc_id])
        self.model[doc_id] = article

    @rule(doc_id=added)
    def update_unchanged(self, doc_id: str) -> None:
        if doc_id not in self.model:
            return
        generation = self.index.snapshot().generation
        report = self.pipeline.add_articles([self.model[doc_id]])
        assert report.unchanged == [doc_id] and report.chunks_embedded == 0
        # An unchanged re-ingest is no write at all: readers keep their snapshot.
        assert self.index.snapshot().generation == generation

    @rule(doc_id=consumes(added))
    def delete(self, doc_id: str) -> None:
        deleted = self.pipeline.delete([doc_id])
        assert deleted == ([doc_id] if doc_id in self.model else [])
        self.model.pop(doc_id, None)

    @rule(batch=st.lists(st.tuples(doc_ids, texts), min_size=2, max_size=4))
    def add_batch(self, batch: list[tuple[str, str]]) -> None:
        articles = [Article(doc_id, text, "Batch") for doc_id, text in batch]
        self.pipeline.add_articles(articles)
        # Within one batch the last version of an id wins.
        for article in articles:
            self.model[article.id] = article

    # -- checks ----------------------------------------------------------------------

    @invariant()
    def consistent(self) -> None:
        assert self.index.check_consistency() == []

    @invariant()
    def vectors_match_chunks(self) -> None:
        snap = self.index.snapshot()
        ids = _faiss_ids(snap.faiss_index)
        rows = self.index.records.conn().execute("SELECT id, vector FROM chunks").fetchall()
        stored = {int(r[0]): np.frombuffer(r[1], dtype=np.float32) for r in rows}
        assert len(ids) == len(set(ids)) == len(stored)
        assert set(ids) == set(stored) == set(snap.chunks)
        for chunk_id, vector in stored.items():
            assert np.array_equal(snap.faiss_index.reconstruct(chunk_id), vector)

    @invariant()
    def documents_match_model(self) -> None:
        total, docs = self.index.list_documents(limit=1000)
        assert total == len(self.model)
        assert {d.id: (d.title, d.text) for d in docs} == {
            a.id: (a.title, a.text) for a in self.model.values()
        }
        rows = self.index.records.conn().execute(
            "SELECT doc_id, start, end, text FROM chunks ORDER BY doc_id, ordinal"
        )
        got: dict[str, list[tuple[int, int, str]]] = {}
        for r in rows:
            got.setdefault(r[0], []).append((r[1], r[2], r[3]))
        expected = {
            a.id: [(c.start, c.end, c.text) for c in chunk_article(a, CHUNK_WORDS, 1)]
            for a in self.model.values()
        }
        assert got == expected

    @invariant()
    def search_names_live_documents(self) -> None:
        if not self.model:
            return
        for mode in ("dense", "bm25", "hybrid"):
            for passage in self.pipeline.search("harbor council vote", 10, mode=mode):  # type: ignore[arg-type]
                article = self.model.get(passage.doc_id)
                assert article is not None, f"{mode} search returned deleted document {passage.doc_id}"
                assert article.text[passage.start : passage.end] == passage.text

    @invariant()
    def reopened_index_agrees(self) -> None:
        cold = Store(self.tmp / "index", self.embedder)
        try:
            assert cold.check_consistency() == []
            assert _state(cold) == _state(self.index)
        finally:
            cold.close()


@pytest.mark.slow
def test_random_writes_keep_the_index_consistent(embedder: SentenceTransformerEmbedder) -> None:
    IndexMachine.embedder = embedder
    run_state_machine_as_test(
        IndexMachine,
        settings=settings(
            max_examples=10,
            stateful_step_count=8,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
