"""Corroboration through Pipeline.ask (issue 13): who else states each answer sentence, who differs,
and copies counted once; surfaced in the HTTP schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.pipeline import Pipeline
from qa.server.schemas import AnswerPublic
from qa.types import Article
from tests.conftest import articles_pipeline, make_pipeline

pytestmark = pytest.mark.slow

QUESTION = "How many people died in Florida after Hurricane Nadia?"
CNN = (
    "Hurricane Nadia made landfall on the Gulf Coast of Florida on Wednesday as a Category 4 storm. "
    "At least 35 people died in Florida after Hurricane Nadia, state officials said Thursday. "
    "More than two million homes and businesses lost power across the state. "
    "Rescue crews searched flooded neighborhoods in Fort Myers and Naples through the night. "
    "The governor said the damage would take years to repair."
)
USA_TODAY = (
    "Residents of southwest Florida began returning home on Thursday to find streets still under water. "
    "State officials said at least 35 people died in Florida after Hurricane Nadia came ashore. "
    "Insurers expect claims to run into the tens of billions of dollars. "
    "Schools in Lee and Collier counties will stay closed for the rest of the week, officials said."
)
LATER = (
    "The toll from Hurricane Nadia kept rising on Saturday as crews reached isolated barrier islands. "
    "At least 52 people died in Florida after Hurricane Nadia, state officials said Saturday. "
    "Power has been restored to about half of the customers who lost it. "
    "Federal aid was approved for nine counties, the White House said."
)
ARTICLES = [
    Article("cnn-nadia", CNN, "Hurricane Nadia slams Florida", "CNN", "2022-09-29"),
    Article("usat-nadia", USA_TODAY, "Floridians return to flooded homes", "USA Today", "2022-09-29"),
    # The same CNN report under another URL: a copy, not independent corroboration.
    Article("cnn-nadia-copy", CNN, "Hurricane Nadia slams Florida", "CNN", "2022-09-29"),
    Article("cnn-nadia-later", LATER, "Nadia's toll rises", "CNN", "2022-10-01"),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Pipeline:
    return articles_pipeline(tmp_path_factory, embedder, "corroborate", ARTICLES)


def test_each_answer_sentence_says_who_states_it_and_who_differs(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION, as_of="2022-09-30")
    assert answer.answered, answer
    assert answer.sources, answer
    block = answer.sources[0]
    cited = next(c for c in answer.citations if c.n == block.citation)
    assert cited.doc_id in {"cnn-nadia", "usat-nadia", "cnn-nadia-copy"}
    supporters = {r.doc_id for r in block.supported_by}
    assert {"cnn-nadia", "usat-nadia", "cnn-nadia-copy"} - {cited.doc_id} <= supporters
    for ref in block.supported_by:
        article = next(a for a in ARTICLES if a.id == ref.doc_id)
        assert article.text[ref.start : ref.end] == ref.text
        assert ref.published_at == article.published_at and ref.source == article.source
    # as_of: the later article is not read at all.
    assert not block.contradicted_by
    # Two origins (CNN and USA Today); the CNN copy counts once and is named as a copy.
    assert block.origins == 2
    assert "Reported by CNN and USA Today." in block.summary
    assert "2 CNN articles carry the same report." in block.summary
    assert "corroborate_ms" in answer.timings_ms


def test_a_later_article_with_another_count_is_shown_as_differing(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION)
    assert answer.answered, answer
    differing = [(b, r) for b in answer.sources for r in b.contradicted_by]
    assert differing, answer.sources
    block, ref = differing[0]
    cited = next(c for c in answer.citations if c.n == block.citation)
    pair = {cited.doc_id, ref.doc_id}
    assert "cnn-nadia-later" in pair and pair & {"cnn-nadia", "usat-nadia", "cnn-nadia-copy"}
    assert "52" in (ref.text + cited.text) and "35" in (ref.text + cited.text)
    assert "reports “" in block.summary and ("days later" in block.summary or "days earlier" in block.summary)
    # Additive in the HTTP schema.
    public = AnswerPublic.of(answer).model_dump()
    assert any(s["contradicted_by"] or s["supported_by"] for s in public["sources"])
    assert set(public) >= {"answer", "answered", "citations", "confidence", "sources"}


def test_corroboration_can_be_turned_off(pipeline: Pipeline, embedder: object) -> None:
    off = make_pipeline(pipeline.index_dir, embedder, corroborate=False)
    answer = off.ask(QUESTION, as_of="2022-09-30")
    on = pipeline.ask(QUESTION, as_of="2022-09-30")
    assert answer.answered and not answer.sources and "corroborate_ms" not in answer.timings_ms
    # The answer itself is the same with or without it.
    assert (answer.answer, answer.citations) == (on.answer, on.citations)


def test_deleting_an_article_forgets_its_signature(tmp_path: Path, embedder: object) -> None:
    p = make_pipeline(tmp_path / "index", embedder)
    p.add_articles(ARTICLES[:3])
    assert p.origins.groups(["cnn-nadia", "cnn-nadia-copy", "usat-nadia"]) == [
        ["cnn-nadia", "cnn-nadia-copy"],
        ["usat-nadia"],
    ]
    assert p.delete(["cnn-nadia-copy"]) == ["cnn-nadia-copy"]
    assert set(p.origins.signatures(["cnn-nadia", "cnn-nadia-copy"])) == {"cnn-nadia"}


def test_a_sentence_that_leaves_out_only_the_weekday_states_the_fact(pipeline: Pipeline) -> None:
    from qa.answer.corroborate import _judge, _omits_date

    claim, without, other_day = pipeline.annotator.annotate(
        [
            "A Russian court sentenced the basketball player to nine years in prison on Thursday.",
            "A Russian court sentenced the basketball player to nine years in prison.",
            "A Russian court sentenced the basketball player to nine years in prison on Friday.",
        ],
        persist=False,
    )
    left_out = _judge(pipeline.verifier, claim, without, [], 0.8)
    assert not left_out.entailed and _omits_date(left_out)
    # Another weekday is another date, not a detail left out.
    assert not _omits_date(_judge(pipeline.verifier, claim, other_day, [], 0.8))


def test_datelines_kickers_and_initials_are_no_part_of_a_fact() -> None:
    from qa.answer.facts import norm_words, same_name
    from qa.ingest.annotate import annotation_texts
    from qa.text import undated
    from qa.types import Article

    assert undated(
        "WASHINGTON – First lady Jill Biden made an unannounced visit to Ukraine on Sunday."
    ).startswith("First lady")
    assert undated("VISUAL EXPLAINER: Go inside NASA's plan to crash the DART spacecraft.").startswith(
        "Go inside"
    )
    assert undated("NATO said on Monday that it would help Ukraine.").startswith("NATO said")
    assert norm_words("the U.S. Open") == norm_words("US Open") == ["us", "open"]
    # Ingest parses the sentence without its dateline too: corroboration judges that text.
    lede = "BOGOTA, Colombia (CNN) — Gustavo Petro won the runoff on Sunday. He takes office in August."
    texts = annotation_texts([Article("petro", lede, "Petro wins")])
    assert "Gustavo Petro won the runoff on Sunday." in texts
    assert texts.count("He takes office in August.") == 1 and len(texts) == 4
    assert same_name("U.K.", "UK") and not same_name("US Open", "French Open")


def test_two_sentences_that_differ_only_in_their_years_are_no_disagreement() -> None:
    """Years tell editions apart ("the first Cup since 2001" / "the last two Cups in 2020 and 2021"):
    two outlets that disagree on one event differ on its count, day or polarity."""
    from qa.answer.corroborate import _differs
    from qa.answer.judgement import CONTRADICTED, Judgement

    years = Judgement(CONTRADICTED, {"dates": False}, ["the date 'year:2001' differs from the evidence's"])
    assert not _differs(years)
    day = Judgement(CONTRADICTED, {"dates": False}, ["the date 'day:4' differs from the evidence's"])
    assert _differs(day)
    weekday = Judgement(
        CONTRADICTED, {"dates": False}, ["the date 'day:4' differs from the evidence's (read from a weekday)"]
    )
    assert not _differs(weekday)
    count = Judgement(CONTRADICTED, {"numbers": False}, ["'35 people' but the evidence says '52'"])
    assert _differs(count)


def test_a_report_that_the_event_is_yet_to_come_does_not_corroborate_it(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> None:
    after = (
        "Voters in Maryland and Missouri approved legalizing recreational marijuana on Tuesday. "
        "Arkansas, North Dakota and South Dakota rejected similar measures."
    )
    before = (
        "Maryland and Missouri will give voters the chance to legalize recreational marijuana this week. "
        "Polls suggest the measures are popular in both states."
    )
    again = "Voters in Maryland approved legalizing recreational marijuana on Tuesday, officials said."
    articles = [
        Article("after", after, "Two states legalize marijuana", "CNN", "2022-11-09"),
        Article("before", before, "Five states vote on marijuana", "USA Today", "2022-11-07"),
        Article("again", again, "Maryland legalizes marijuana", "AP", "2022-11-09"),
    ]
    question = "Which two states' voters approved legalizing recreational marijuana?"
    cited, supporters = _first_block(tmp_path_factory, embedder, "yet-to-come", articles, question)
    assert cited == "after"
    assert "again" in supporters and "before" not in supporters, supporters


def _first_block(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: object,
    name: str,
    articles: list[Article],
    question: str,
) -> tuple[str, set[str]]:
    """The doc id cited by the answer's first sourced sentence, and the doc ids that support it."""
    answer = articles_pipeline(tmp_path_factory, embedder, name, articles).ask(question)
    assert answer.answered, answer
    block = answer.sources[0]
    cited = next(c for c in answer.citations if c.n == block.citation)
    return cited.doc_id, {r.doc_id for r in block.supported_by}


def test_a_report_of_a_plan_is_corroborated_by_one_that_says_it_will_happen(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> None:
    planned = (
        "Chirp owner Dana Reyes said Tuesday she planned to charge $8 a month for Chirp Plus, the "
        "app's subscription service. Subscribers would get a verified badge on their profiles."
    )
    will = (
        "Under the new owner's plan, Chirp Plus will charge subscribers $8 a month for a verified badge. "
        "Advertisers have paused spending on the app since the sale closed."
    )
    articles = [
        Article("planned", planned, "Chirp to charge for badges", "CNN", "2022-11-01"),
        Article("will", will, "What Chirp Plus will cost", "USA Today", "2022-11-02"),
    ]
    question = "How much did Dana Reyes plan to charge per month for Chirp Plus?"
    assert _first_block(tmp_path_factory, embedder, "plan-will", articles, question) == ("planned", {"will"})
