"""The asked value across articles (issue 13, qa.answer.values): a quantity question's value as each
article states it, so an update shows even when the cited sentence does not hold the number.

Real spaCy annotations and the real embedding model; articles written like news reports (a toll that
rises, a storm's other numbers, another event's toll in the same index)."""

from __future__ import annotations

import pytest

from qa.answer.facts import Quantity
from qa.answer.question import analyze
from qa.answer.values import Measure, asked_measure, same_value, value_in
from qa.pipeline import Pipeline
from qa.types import Article
from tests.conftest import articles_pipeline, first_cited

pytestmark = pytest.mark.slow

QUESTION = "How many people have died in the floods in Pakistan's Sindh province?"
# The first report: its sentences about the flood (rain, roads, an evacuation) and the toll in one of them.
FIRST = (
    "Heavy monsoon rains flooded large parts of Pakistan's Sindh province on Monday, officials said. "
    "Rescue teams used boats to evacuate villagers from the worst-hit districts near the Indus river. "
    "At least 180 people have died in the floods in Sindh province since June, the disaster authority said. "
    "More than 300,000 people were moved to relief camps across the province."
)
# Two weeks later, another outlet: the toll stated in other words, beside other counts.
LATER = (
    "Floodwaters were still rising in southern Pakistan on Tuesday as more rain fell on Sindh province. "
    "The disaster authority said 411 people have now died in the Sindh floods, among them many children. "
    "About 12,000 people had been arrested for looting relief trucks, police in Karachi said. "
    "Aid agencies warned of disease in the camps as the water stood for weeks."
)
# Another event's toll, in the same index: never compared with the floods' (it names none of the story).
OTHER = (
    "A magnitude 6.1 earthquake struck eastern Turkey on Sunday, officials said. "
    "At least 25 people have died after the earthquake in Elazig, the disaster authority said. "
    "Rescue teams searched collapsed buildings through the night."
)
ARTICLES = [
    Article("dawn-sindh", FIRST, "Floods swamp Sindh", "Dawn", "2022-08-15"),
    Article("ap-sindh-later", LATER, "Sindh flood toll climbs", "AP", "2022-08-30"),
    Article("ap-turkey", OTHER, "Earthquake in eastern Turkey", "AP", "2022-08-20"),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Pipeline:
    return articles_pipeline(tmp_path_factory, embedder, "values", ARTICLES)


def test_what_a_question_asks_to_count(pipeline: Pipeline) -> None:
    annotate = pipeline.annotator.annotate

    def measure(question: str) -> Measure | None:
        sent = annotate([question], persist=False)[0]
        return asked_measure(analyze(sent), sent)

    died = measure(QUESTION)
    assert died is not None and died.kinds == {"count"} and died.unit == "people" and died.verb == "die"
    charge = measure("How much will the company charge for a verified account?")
    assert charge is not None and "count" not in charge.kinds and "money" in charge.kinds
    toll = measure("What is the death toll in Sindh from the floods?")
    assert toll is not None and "count" in toll.kinds and "death" in toll.words
    rate = measure("What is the annual rate of consumer price inflation?")
    assert rate is not None and rate.kinds == {"%"}
    # "By how much were prices up": a change, as a share or a sum, though "prices" are money.
    up = measure("By how much were grocery prices up over the past year?")
    assert up is not None and up.kinds == {"money", "%"}
    cost = measure("What price did the buyer pay for the house?")
    assert cost is not None and cost.kinds == {"money"}
    assert measure("Who won the election in Colombia?") is None
    assert measure("Where did the president go after fleeing the country?") is None


def test_the_asked_number_is_told_from_the_sentences_other_numbers(pipeline: Pipeline) -> None:
    sent = pipeline.annotator.annotate([QUESTION], persist=False)[0]
    measure = asked_measure(analyze(sent), sent)
    assert measure is not None

    def value(text: str) -> str | None:
        q = value_in(pipeline.annotator.annotate([text], persist=False)[0], measure, pipeline.verifier)
        return q.text if q else None

    assert value(LATER.split(". ")[1]) == "411"
    # People counted, but arrested, not dead: the question's verb decides.
    assert value("About 12,000 people had been arrested for looting relief trucks, police said.") is None
    # A count of deaths answers "how many people died" (the noun is close to the asked verb).
    assert value("The rapporteur said the crackdown had caused at least 277 deaths.") == "277"
    assert value("Rescue teams used boats to evacuate villagers from the worst-hit districts.") is None
    # Asked how many people, a count of any kind of person ("victims"), and what a measure noun
    # rose to ("the number of dead climbed to 154").
    assert value("Families in Sindh mourn the 402 victims of the floods.") == "402"
    assert value("Through Sunday, the number of dead climbed to 154, with dozens more injured.") == "154"
    assert value("Through Sunday, 96 schools in Sindh were flooded.") is None


def test_a_fee_per_month_is_no_value_of_a_price_and_a_price_none_of_a_fee(pipeline: Pipeline) -> None:
    def value(question: str, text: str) -> str | None:
        sent = pipeline.annotator.annotate([question], persist=False)[0]
        measure = asked_measure(analyze(sent), sent)
        assert measure is not None
        q = value_in(pipeline.annotator.annotate([text], persist=False)[0], measure, pipeline.verifier)
        return q.text if q else None

    fee = "Musk said he planned to charge Twitter users $8 a month for a blue check mark."
    deal = "Musk agreed to pay $44 billion to buy Twitter, the company said."
    paid = "How much did Elon Musk agree to pay to buy Twitter?"
    assert value(paid, deal) == "44 billion"
    assert value(paid, fee) is None
    monthly = "How much will Twitter charge users a month for a blue check mark?"
    assert value(monthly, fee) == "8"
    assert value(monthly, deal) is None


def test_approximate_values_match_within_their_rounding() -> None:
    def money(value: float, qualifier: str = "") -> Quantity:
        return Quantity(value, "money", qualifier, str(value))

    assert same_value(money(24.6e9), money(25e9, "approx"))  # "nearly $25 billion"
    assert not same_value(money(24.6e9), money(25e9))
    assert not same_value(money(14_000), money(15_000, "approx"))
    assert not same_value(money(8), Quantity(8, "%", "", "8"))


def test_the_newer_toll_leads_though_the_cited_sentence_is_another(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION)
    assert answer.answered, answer
    shown = {
        ref.doc_id: ref.text for block in answer.sources for ref in (*block.contradicted_by, *block.updates)
    }
    cited = {c.doc_id for c in answer.citations}
    # Both reports are shown: one cited, the other as differing / updating, with its number.
    assert {"dawn-sindh", "ap-sindh-later"} <= cited | set(shown), (answer.answer, answer.sources)
    # The newest value leads, and the earlier report follows with its date.
    assert first_cited(answer) == "ap-sindh-later", answer.answer
    assert answer.answer.index("411") < answer.answer.index("180")
    assert "Earlier, on August 15, 2022, Dawn reported" in answer.answer
    # Another event's toll is never compared, and no count of something else is taken for the toll.
    assert "ap-turkey" not in shown and "12,000" not in answer.answer
    for citation in answer.citations:
        article = next(a for a in ARTICLES if a.id == citation.doc_id)
        assert article.text[citation.start : citation.end] == citation.text


def test_as_of_keeps_the_newer_value_out(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION, as_of="2022-08-20")
    assert answer.answered, answer
    assert "411" not in answer.answer
    assert all(not b.contradicted_by and not b.updates for b in answer.sources), answer.sources


def test_a_scale_letter_on_a_number_is_its_scale(pipeline: Pipeline) -> None:
    from qa.answer.facts import quantities

    sent = pipeline.annotator.annotate(
        ["Kroger agreed to acquire Albertsons in a $24.6B deal."], persist=False
    )[0]
    money = [q for q in quantities(sent) if q.unit == "money"]
    assert money and money[0].value == pytest.approx(24.6e9)
    # ... the same value as "nearly $25 billion" in another outlet's words.
    assert same_value(money[0], Quantity(25e9, "money", "approx", "25 billion"))


def test_one_speed_in_two_units_is_one_value_and_mph_is_miles_per_hour() -> None:
    from qa.answer.facts import Quantity
    from qa.answer.values import _same_scale

    mph, miles, km = (
        Quantity(14000, "mph", "", "14,000"),
        Quantity(15000, "mile", "", "15,000"),
        Quantity(24140, "kilometer", "", "24,140"),
    )
    assert _same_scale(mph, miles) and not _same_scale(mph, km)
    assert _same_scale(Quantity(3, "", "", "3"), km)


def test_a_date_question_compares_the_dates_each_article_gives(pipeline: Pipeline) -> None:
    from qa.models.nlp import Annotator

    nlp = Annotator()
    question = nlp.annotate(["When will NASA next try to launch the Artemis I mission?"], persist=False)[0]
    measure = asked_measure(analyze(question), question)
    assert measure is not None and measure.kinds == frozenset({"date"})
    planned = nlp.annotate(
        ["NASA will try again to launch the Artemis I mission on Saturday."], persist=False
    )[0]
    read = value_in(planned, measure, pipeline.verifier, "2022-08-30")
    later = nlp.annotate(["NASA will try to launch Artemis I on November 14, NASA said."], persist=False)[0]
    moved = value_in(later, measure, pipeline.verifier, "2022-10-12")
    assert read is not None and moved is not None
    # Saturday after Tuesday 30 August is 3 September; one day is one value, another day another.
    assert not same_value(read, moved)
    assert same_value(read, value_in(planned, measure, pipeline.verifier, "2022-09-01"))  # type: ignore[arg-type]
    assert not same_value(read, value_in(planned, measure, pipeline.verifier, "2022-09-05"))  # type: ignore[arg-type]


def test_asked_the_value_of_a_day_a_later_report_does_not_update_it(pipeline: Pipeline) -> None:
    """Asked the toll "as of August 15, 2022", the report of August 30 is another day's value: the
    answer cites the day's report and shows no update (asked without a day, it leads)."""
    answer = pipeline.ask(
        "How many people had died in the floods in Pakistan's Sindh province as of August 15, 2022?"
    )
    assert answer.answered, answer
    assert first_cited(answer) == "dawn-sindh", answer.answer
    assert "411" not in answer.answer
    assert not any(
        ref.doc_id == "ap-sindh-later"
        for block in answer.sources
        for ref in (*block.contradicted_by, *block.updates)
    ), answer.sources


def test_after_the_asked_day() -> None:
    from qa.answer.nonanswers import after_asked_day, asked_time

    day = asked_time("How many cases were reported on August 15, 2022?")
    assert not after_asked_day(day, "2022-08-15") and not after_asked_day(day, "2022-08-16")
    assert after_asked_day(day, "2022-08-30")
    # "as of August 15, 2022" is a cutoff: the pipeline reads nothing published after it (as_of).
    assert not after_asked_day(asked_time("How many had died as of August 15, 2022?"), "2022-08-30")
    assert not after_asked_day(asked_time("How many had died in 2022?"), "2022-08-30")  # no day asked


def test_a_value_another_person_is_the_subject_of_is_not_the_asked_ones(pipeline: Pipeline) -> None:
    asked = pipeline.annotator.annotate(
        ["How old was film director Alain Marchand when he died?"], persist=False
    )[0]
    measure = asked_measure(analyze(asked), asked)
    assert measure is not None

    def value(text: str) -> str | None:
        q = value_in(pipeline.annotator.annotate([text], persist=False)[0], measure, pipeline.verifier)
        return q.text if q else None

    assert value("Film director Alain Marchand has died aged 88, his family said.") == "88"
    # A headline on another person's death that names him: her age, not his.
    assert value("Claire Dubois, star of his early films and muse of Alain Marchand, dies at 79") is None
