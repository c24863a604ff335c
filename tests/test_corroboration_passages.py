"""Passage choice (issue 13): copies of one text don't fill the answer's passages; corroboration reads
more articles, at most two passages each, copies included, and more sentences of each article
(qa.answer.reread, real stored sentence vectors).  Real MinHash signatures in SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.diverse import spread
from qa.answer.reread import more_of_articles
from qa.ingest.dedup import OriginIndex
from qa.types import Article, Passage
from tests.conftest import articles_pipeline

WIRE = (
    "The city council voted on Tuesday to build a new bridge across the river, a project that will "
    "cost 40 million dollars and take three years, the mayor said after a long public meeting."
)
OTHER = (
    "Local businesses welcomed the decision, saying the old ferry had been too slow for years and "
    "that commuters would save an hour a day once the crossing opens in the spring of next year."
)
THIRD = "Engineers will begin surveying the riverbank next month, according to the city's planning office."


def _passage(doc_id: str, n: int, score: float) -> Passage:
    return Passage(n, doc_id, "t", "src", "2022-01-01", 0, 10, f"text {n}", score)


def test_copies_of_one_text_are_skipped_in_the_answer_passages_but_read_for_corroboration(
    tmp_path: Path,
) -> None:
    origins = OriginIndex(tmp_path)
    origins.record(
        [
            Article("wire-a", WIRE, source="AP"),
            Article("wire-b", WIRE + " More to come.", source="USA Today"),
            Article("other", OTHER, source="CNN"),
            Article("third", THIRD, source="CNN"),
        ]
    )
    ranked = [
        _passage("wire-a", 1, 0.9),
        _passage("wire-b", 2, 0.89),
        _passage("wire-a", 3, 0.8),
        _passage("other", 4, 0.7),
        _passage("wire-a", 5, 0.6),
        _passage("third", 6, 0.5),
    ]
    chosen = spread(ranked, 3, 6, origins)
    # The answer's 3: wire-a twice (one article's chunks stay), then "other"; wire-b (a copy) skipped.
    assert [p.chunk_id for p in chosen[:3]] == [1, 3, 4]
    # For corroboration: the copy is read (it is what "2 outlets carry the same report" counts),
    # wire-a's third chunk is not (two per article at most).
    assert [p.chunk_id for p in chosen[3:]] == [2, 6]


def test_without_copies_the_ranking_is_kept(tmp_path: Path) -> None:
    ranked = [_passage(f"d{i}", i, 1 - i / 10) for i in range(1, 7)]
    assert spread(ranked, 3, 3, OriginIndex(tmp_path)) == ranked[:3]
    assert spread(ranked, 3, 6, None) == ranked
    # Too few distinct origins: the answer's passages are topped up from the skipped ones.
    assert [p.doc_id for p in spread(ranked[:2], 5, 5, None)] == ["d1", "d2"]


# An article whose retrieved chunk is its first sentence; it states the asked fact further down.
LONG = (
    "Crowds gathered along the river on Saturday for the annual regatta. "
    "Food stalls and music filled the park until late in the evening. "
    "The city council approved a new bridge across the river, the mayor said. "
    "The bridge will cost 40 million dollars and take three years to build. "
    "Tickets for next year's regatta go on sale in March."
)


@pytest.mark.slow
def test_more_of_each_retrieved_article_is_read_from_its_stored_sentences(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> None:
    pipeline = articles_pipeline(tmp_path_factory, embedder, "reread", [Article("long", LONG, "Regatta")])
    first = LONG.index(".") + 1
    read = [Passage(1, "long", "Regatta", "", None, 0, first, LONG[:first], 1.0)]
    asked = list(pipeline.embeddings.embed(["Did the city council approve a bridge across the river?"]))
    more = more_of_articles(read, pipeline.store, asked, 1)
    # The closest sentence outside the passage read, with the one before it (its context).
    assert len(more) == 1 and more[0].doc_id == "long" and more[0].title == "Regatta"
    assert more[0].text == LONG[more[0].start : more[0].end]
    assert more[0].text.endswith("a new bridge across the river, the mayor said.")
    assert more[0].text.startswith("Food stalls")
    # None when off, and nothing the passages already hold.
    assert more_of_articles(read, pipeline.store, asked, 0) == []
    whole = [Passage(1, "long", "Regatta", "", None, 0, len(LONG), LONG, 1.0)]
    assert more_of_articles(whole, pipeline.store, asked, 3) == []


def test_other_outlets_are_found_by_searching_with_the_cited_sentence(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> None:
    from qa.answer.corroborate import fact_passages
    from qa.answer.retrieve import Filters
    from qa.types import Answer, Citation

    cited = "Kroger agreed on Friday to buy Albertsons in a $24.6 billion deal, the companies said."
    articles = [
        Article("a", cited, "Kroger buys Albertsons", source="CNN", published_at="2022-10-14"),
        Article(
            "b",
            "The grocer Kroger will acquire rival Albertsons for nearly $25 billion.",
            "Deal",
            source="AP",
            published_at="2022-10-15",
        ),
        Article(
            "c",
            "Later, regulators said they would review the Kroger and Albertsons merger.",
            "Review",
            source="AP",
            published_at="2022-11-20",
        ),
        Article("d", THIRD, "Riverbank", source="CNN", published_at="2022-10-14"),
    ]
    pipeline = articles_pipeline(tmp_path_factory, embedder, "factsearch", articles)
    answer = Answer(
        cited + " [1]",
        True,
        [Citation(1, "a", "Kroger buys Albertsons", 0, len(cited), cited, 1.0)],
        "extractive",
    )
    read = [Passage(1, "a", "Kroger buys Albertsons", "CNN", "2022-10-14", 0, len(cited), cited, 1.0)]
    settings = pipeline.settings.model_copy(update={"corroborate_fact_passages": 3})
    found = fact_passages(
        answer, read, pipeline.verifier, pipeline.retriever.fact_search(Filters()), settings
    )
    # Articles not read yet, closest to the cited sentence first; the article already read is not repeated.
    assert [p.doc_id for p in found] == ["b", "c"], [p.doc_id for p in found]
    # Under the question's as_of, nothing published after it is read.
    before = Filters().at("2022-10-31")
    found = fact_passages(answer, read, pipeline.verifier, pipeline.retriever.fact_search(before), settings)
    assert "c" not in {p.doc_id for p in found} and "b" in {p.doc_id for p in found}
