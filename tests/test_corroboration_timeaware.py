"""Time-aware answers through Pipeline.ask (issue 13): the newest value leads, the change is cited both
ways, older facts say "as of", and as_of keeps later articles out; the fields in the HTTP schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.pipeline import Pipeline
from qa.server.schemas import AnswerPublic
from tests.conftest import articles_pipeline, first_cited, make_pipeline
from tests.test_corroborate import ARTICLES, QUESTION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Pipeline:
    return articles_pipeline(tmp_path_factory, embedder, "timeaware", ARTICLES)


def test_the_newest_value_leads_and_the_change_is_cited_both_ways(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION)
    assert answer.answered, answer
    # The later article's toll (52) leads; the earlier one (35) follows, each with its citation.
    assert first_cited(answer) == "cnn-nadia-later", answer.answer
    assert answer.answer.index("52") < answer.answer.index("35")
    assert "Earlier, on September 29, 2022, " in answer.answer
    lead = next(b for b in answer.sources if b.citation and "52" in b.sentence)
    blocks_with_change = [b for b in answer.sources if b.earlier or b.updates]
    assert blocks_with_change
    refs = [r for b in blocks_with_change for r in (*b.earlier, *b.updates)]
    cited_numbers = {c.n for c in answer.citations}
    assert all(r.citation in cited_numbers for r in refs if r.citation is not None)
    assert any(r.citation is not None and "35" in r.text for r in refs), refs
    assert lead.citation in cited_numbers
    for citation in answer.citations:
        article = next(a for a in ARTICLES if a.id == citation.doc_id)
        assert article.text[citation.start : citation.end] == citation.text
        assert citation.published_at == article.published_at
    public = AnswerPublic.model_validate(AnswerPublic.of(answer).model_dump()).model_dump()
    assert any(s["earlier"] or s["updates"] for s in public["sources"])
    assert {"as_of", "updates", "earlier"} <= set(public["sources"][0])


def test_as_of_keeps_the_update_out(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION, as_of="2022-09-30")
    assert answer.answered, answer
    assert "52" not in answer.answer and "Earlier," not in answer.answer
    assert all(not b.updates and not b.earlier and b.as_of is None for b in answer.sources)
    assert all(c.doc_id != "cnn-nadia-later" for c in answer.citations)


def test_an_as_of_date_the_question_states_keeps_later_articles_out(pipeline: Pipeline) -> None:
    asked = "How many people had died in Florida after Hurricane Nadia as of September 30, 2022?"
    answer = pipeline.ask(asked)
    assert answer.answered, answer
    assert "52" not in answer.answer and "Earlier," not in answer.answer
    assert all(c.doc_id != "cnn-nadia-later" for c in answer.citations)
    # The earlier of the request's as_of and the question's own applies.
    assert all(c.doc_id != "cnn-nadia-later" for c in pipeline.ask(asked, as_of="2022-12-01").citations)
    later = pipeline.ask(asked.replace("September 30", "October 2"))
    assert first_cited(later) == "cnn-nadia-later", later.answer


def test_this_week_reads_only_the_week_before_the_questions_date(pipeline: Pipeline) -> None:
    asked = "How many people died in Florida after Hurricane Nadia this week?"
    answer = pipeline.ask(asked, as_of="2022-09-30")
    assert answer.answered and all(c.published_at == "2022-09-29" for c in answer.citations), answer
    # A week after the last article, nothing is this week's news.
    assert not pipeline.ask(asked, as_of="2022-10-09").answered
    # Without the word, the same date reads the older articles (the newest value leads).
    assert first_cited(pipeline.ask(asked.replace(" this week", ""), as_of="2022-10-09")) == "cnn-nadia-later"
    # Search reads the question as answering does.
    assert {p.published_at for p in pipeline.search(asked, 5, as_of="2022-09-30")} == {"2022-09-29"}
    assert pipeline.search(asked, 5, as_of="2022-10-09") == []
    assert {p.doc_id for p in pipeline.search(asked.replace(" this week", ""), 5, as_of="2022-10-09")} > {
        "cnn-nadia-later"
    }


def test_a_fact_only_an_older_article_states_is_given_as_of_its_date(pipeline: Pipeline) -> None:
    answer = pipeline.ask("How many homes and businesses lost power across Florida after Hurricane Nadia?")
    assert answer.answered, answer
    dates = [p.published_at for p in answer.passages]
    assert "2022-10-01" in dates, dates  # the later article is among the passages read
    block = next(b for b in answer.sources if "two million" in b.sentence)
    assert block.as_of == "2022-09-29"
    assert answer.answer.startswith("As of September 29, 2022: More than two million homes"), answer.answer
    # Nothing newer: the same question as of that day says no "as of".
    same_day = pipeline.ask(
        "How many homes and businesses lost power across Florida after Hurricane Nadia?", as_of="2022-09-29"
    )
    assert same_day.answered and "As of" not in same_day.answer
    assert all(b.as_of is None for b in same_day.sources)


def test_a_newer_value_the_draft_already_quotes_is_not_quoted_twice(tmp_path: Path, embedder: object) -> None:
    """The draft quotes both the newer and the older toll: the newer sentence stays once, the older one
    is introduced as the earlier report and points at the newer citation in ``updates``."""
    from tests.test_widget_corroboration import ARTICLES as QUAKE
    from tests.test_widget_corroboration import QUESTION as QUAKE_QUESTION
    from tests.test_widget_corroboration import TOLL_41, TOLL_63

    p = make_pipeline(tmp_path / "index", embedder)
    p.add_articles(QUAKE)
    answer = p.ask(QUAKE_QUESTION)
    assert answer.answered, answer
    quoted = [(c.doc_id, c.start, c.end) for c in answer.citations]
    assert len(quoted) == len(set(quoted)), answer.citations
    assert answer.answer.count(TOLL_63.rstrip(".")) == 1, answer.answer
    assert answer.answer.index(TOLL_63.rstrip(".")) < answer.answer.index(TOLL_41.rstrip("."))
    older = next(b for b in answer.sources if "41 people" in b.sentence and b.updates)
    newer_n = next(c.n for c in answer.citations if c.doc_id == "quake-toll-rises")
    assert [u.citation for u in older.updates] == [newer_n]
    assert "reported: " + TOLL_41.rstrip(".") in answer.answer, answer.answer


def test_one_newer_report_that_updates_two_answer_sentences_leads_once() -> None:
    from qa.answer.timeaware import make_time_aware
    from qa.types import Answer, Citation, SentenceSources, SourceRef

    first, second = "The toll rose to 30 on Monday.", "Officials said 30 people had died."
    newer = SourceRef("new", "AP", "2022-05-03", 0, 33, "The toll has risen to 41, officials said.", "Update")
    answer = Answer(
        f"{first} [1] {second} [2]",
        True,
        [
            Citation(1, "old-a", "A", 0, len(first), first, 1.0, "CNN", "2022-05-01"),
            Citation(2, "old-b", "B", 0, len(second), second, 1.0, "CNN", "2022-05-01"),
        ],
        "extractive",
        sources=[
            SentenceSources(first, 1, contradicted_by=[newer]),
            SentenceSources(second, 2, contradicted_by=[newer]),
        ],
    )
    make_time_aware(answer)
    assert answer.answer.count(newer.text.rstrip(".")) == 1, answer.answer
    assert answer.answer.startswith("As of May 3, 2022: The toll has risen to 41")
    assert [c.n for c in answer.citations] == [1, 2, 3]
    # Both older sentences say what updated them, by the one new citation.
    assert [b.updates[0].citation for b in answer.sources if b.updates] == [3, 3]
