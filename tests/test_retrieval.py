"""Retrieval modes, metadata filters and as-of dates over a small real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.retrieve import Filters
from qa.types import Article
from tests.conftest import make_pipeline

pytestmark = pytest.mark.slow

ARTICLES = [
    Article(
        "flood-2022",
        "Heavy rains flooded the river valley in June. Hundreds of homes were evacuated by the army.",
        "River valley floods",
        "CNN",
        "2022-06-10",
    ),
    Article(
        "flood-2021",
        "Heavy rains flooded the river valley last year too. Dozens of homes were damaged.",
        "River valley floods again",
        "USA Today",
        "2021-06-01",
    ),
    Article(
        "budget",
        "The city council approved a transport budget of 48 million dollars for electric buses.",
        "Council approves bus budget",
        "The Week",
        "2022-07-01",
    ),
    Article("undated", "An undated note about electric buses and the council budget.", "Note", "", None),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder, store_kind: str):
    p = make_pipeline(tmp_path_factory.mktemp("retrieval") / "index", embedder, store=store_kind)
    p.add_articles(ARTICLES)
    return p


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_relevant_article(pipeline, mode: str) -> None:
    hits = pipeline.search("How much money did the council approve for electric buses?", 2, mode=mode)
    assert hits[0].doc_id in {"budget", "undated"}
    assert any(h.doc_id == "budget" for h in hits)


def test_a_question_encoded_beside_bm25_ranks_as_one_encoded_first(pipeline) -> None:
    """Hybrid search encodes a new question in another thread while BM25 runs: same passages,
    same scores, as with the vector in hand (both stores; Milvus waits for it before searching)."""
    from concurrent.futures import Future

    from qa.store import SearchRequest

    question = "Which army evacuated homes after the river valley flooded in June?"
    vector = pipeline.embedder.embed([question])
    future: Future = Future()
    future.set_result(vector)
    given, waited = (
        pipeline.store.search(SearchRequest(question, v, 4, "hybrid", Filters())) for v in (vector, future)
    )
    assert [(p.chunk_id, p.score) for p in given] == [(p.chunk_id, p.score) for p in waited]
    from qa.answer import retrieve

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retrieve, "OVERLAP_MIN_CHUNKS", 0)  # this small index overlaps too
        fresh = pipeline.retriever.search(question + " (again)", 4)  # not cached: encoded beside BM25
    assert fresh and fresh[0].doc_id == "flood-2022"


def test_bm25_ignores_unrelated_words(pipeline) -> None:
    assert pipeline.search("zebra quantum xylophone", 3, mode="bm25") == []


def test_source_filter(pipeline) -> None:
    hits = pipeline.search("river valley floods", 5, filters=Filters(sources=("usa today",)))
    assert [h.doc_id for h in hits] == ["flood-2021"]


def test_date_range_excludes_undated_and_out_of_range(pipeline) -> None:
    hits = pipeline.search(
        "floods buses budget",
        10,
        filters=Filters(published_after="2022-01-01", published_before="2022-06-30"),
    )
    assert {h.doc_id for h in hits} == {"flood-2022"}


def test_as_of_excludes_later_articles_and_prefers_recent_ones(pipeline) -> None:
    before = pipeline.search("river valley flooded homes", 5, as_of="2021-12-31")
    assert "flood-2022" not in {h.doc_id for h in before}
    assert before[0].doc_id == "flood-2021"
    after = pipeline.search("river valley flooded homes", 5, as_of="2022-06-12")
    assert after[0].doc_id == "flood-2022"


def test_deleted_documents_are_never_returned(tmp_path: Path, embedder, store_kind: str) -> None:
    p = make_pipeline(tmp_path / "index", embedder, store=store_kind)
    p.add_articles(ARTICLES)
    assert p.delete(["budget"]) == ["budget"]
    for mode in ("dense", "bm25", "hybrid"):
        assert "budget" not in {h.doc_id for h in p.search("council transport budget", 5, mode=mode)}
    answer = p.ask("How much did the council approve for buses?")
    assert all(c.doc_id != "budget" for c in answer.citations)
