"""The entailment checks (qa/answer/entail.py) on sentence pairs parsed by the real spaCy pipeline.

Each case is a general construction (a negated adverbial, "yet to", a denied noun,
a noun in a predicate's slot, a conjunct clause, a spelled-out amount), not a claim
of the dev set.
"""

from __future__ import annotations

import pytest

from qa.answer.entail import CONTRADICTED, ENTAILED, judge
from qa.models.nlp import Annotator


@pytest.fixture(scope="module")
def nlp() -> Annotator:
    return Annotator()


def _judge(nlp: Annotator, claim: str, evidence: str, **kwargs):
    c, e = nlp.annotate([claim, evidence], persist=False)
    return judge(c, e, **kwargs)


@pytest.mark.parametrize(
    ("claim", "evidence", "label"),
    [
        # A negated adverbial negates its clause: "at no time ... compromised" is "never compromised".
        (
            "The integrity of the process was never compromised.",
            "At no time was the integrity of the process compromised.",
            ENTAILED,
        ),
        # "has yet to" is not (yet) done.
        ("The winner had not yet come forward.", "The winner has yet to come forward.", ENTAILED),
        ("The winner has come forward.", "The winner has yet to come forward.", CONTRADICTED),
        # A participle of a denied noun is denied: "no points offered".
        (
            "LIV events currently do not earn players any world ranking points.",
            "There are currently no world ranking points offered for LIV events.",
            ENTAILED,
        ),
        # A noun in the slot of the claim's verb takes its governing verb's polarity.
        (
            "The legal team said it would not appeal the verdict.",
            "The legal team plans to file an appeal against the verdict.",
            CONTRADICTED,
        ),
        # A conjunct is another clause: the negated "announced" is not the slot of "reported".
        (
            "ESPN reported that the deal is worth $4.65 billion.",
            "The purchase price was not announced by the team but according to ESPN, the deal is worth $4.65 billion.",
            ENTAILED,
        ),
        # Negation the other way round is still caught.
        ("Putin is not open to dialogue.", "Peskov stated that Putin is open to dialogue.", CONTRADICTED),
    ],
)
def test_polarity_constructions(nlp: Annotator, claim: str, evidence: str, label: str) -> None:
    judgement = _judge(nlp, claim, evidence)
    assert judgement.label == label, judgement.reasons


def test_a_spelled_out_amount_matches_its_figure(nlp: Annotator) -> None:
    judgement = _judge(
        nlp,
        "Jurors awarded Huth half a million dollars in damages.",
        "The jury awarded Huth $500,000 in damages.",
    )
    assert judgement.checks["numbers"], judgement.reasons
    wrong = _judge(
        nlp,
        "Jurors awarded Huth half a million dollars in damages.",
        "The jury awarded Huth $50,000 in damages.",
    )
    assert not wrong.entailed and not wrong.checks["numbers"]


@pytest.mark.parametrize(
    ("claim", "label"),
    [
        ("Payment firm Stripe said it was cutting 14% of its staff.", ENTAILED),
        # Lyft's figure is not Stripe's.
        ("Payment firm Stripe said it was cutting 13% of its staff.", CONTRADICTED),
    ],
)
def test_a_figure_belongs_to_its_actor(nlp: Annotator, claim: str, label: str) -> None:
    evidence = (
        "Last week, rideshare company Lyft said it was axing 13% of employees, and payment firm Stripe"
        " said it was cutting 14% of its staff."
    )
    judgement = _judge(nlp, claim, evidence)
    assert judgement.label == label, judgement.reasons


def test_names_that_trade_places_under_a_synonym_are_a_role_swap(nlp: Annotator) -> None:
    evidence = "The Colorado Avalanche defeated the Tampa Bay Lightning 2-1 in Game 6."
    swapped = _judge(nlp, "The Tampa Bay Lightning beat the Colorado Avalanche 2-1 in Game 6.", evidence)
    assert swapped.label == CONTRADICTED and not swapped.checks["roles"], swapped.reasons
    same = _judge(nlp, "The Colorado Avalanche beat the Tampa Bay Lightning 2-1 in Game 6.", evidence)
    assert same.checks["roles"], same.reasons


@pytest.mark.parametrize(
    ("claim", "evidence", "ok"),
    [
        # A modal in the evidence (or the clause the verb complements) hedges it: not a fact.
        ("The rover has reached the crater.", "The rover could reach the crater by May.", False),
        (
            "The company has passed its rival in sales.",
            "The company should be on course to pass its rival in sales.",
            False,
        ),
        # Hedged on both sides, or tense and reported speech only ("would", "’ve"): not a hedge.
        ("The rover may reach the crater.", "The rover could reach the crater by May.", True),
        ("The city has planted 500 trees.", "Since spring, they’ve planted 500 trees in the city.", True),
        ("The mayor said the bridge would reopen.", "The mayor said the bridge would reopen in June.", True),
        # What the evidence says will be is not yet done; said of the future on both sides, it is.
        (
            "Voters in Maryland approved legalizing recreational marijuana.",
            "Maryland will give voters the chance to legalize recreational marijuana this week.",
            False,
        ),
        ("The council approved the budget.", "The council will approve the budget on Friday.", False),
        ("The council will approve the budget.", "The council will approve the budget on Friday.", True),
    ],
)
def test_a_claim_does_not_assert_what_the_evidence_hedges(
    nlp: Annotator, claim: str, evidence: str, ok: bool
) -> None:
    judgement = _judge(nlp, claim, evidence)
    assert judgement.checks.get("hedges", True) is ok, judgement.reasons


def test_a_date_belongs_to_its_actor_under_a_synonym(nlp: Annotator) -> None:
    evidence = "Smith was released from custody in 2001; Jones was released in 2004."
    assert _judge(nlp, "Alan Smith was freed from custody in 2004.", evidence).label == CONTRADICTED
    assert _judge(nlp, "Alan Smith was freed from custody in 2001.", evidence).checks["dates"]


def test_a_title_belongs_to_its_person(nlp: Annotator) -> None:
    evidence = "Maria Lopez, a senior engineer, geologist Tom Reyes and intern Ann Walsh mapped the cave."
    swapped = _judge(
        nlp, "Geologist Ann Walsh and intern Tom Reyes helped Maria Lopez map the cave.", evidence
    )
    assert swapped.label == CONTRADICTED and not swapped.checks["roles"], swapped.reasons
    same = _judge(nlp, "Geologist Tom Reyes and intern Ann Walsh helped Maria Lopez map the cave.", evidence)
    assert same.checks["roles"], same.reasons


def test_an_approximate_amount_agrees_with_the_figure_it_rounds(nlp: Annotator) -> None:
    # "nearly $25 billion" is "$24.6 billion" rounded: one value, either way round.
    rounded = _judge(
        nlp, "Kroger agreed to a nearly $25 billion deal.", "Kroger agreed to a $24.6 billion deal."
    )
    assert rounded.checks["numbers"], rounded.reasons
    assert rounded.label != CONTRADICTED
    exact = _judge(
        nlp, "Kroger agreed to a $24.6 billion deal.", "Kroger agreed to a nearly $25 billion deal."
    )
    assert exact.label != CONTRADICTED, exact.reasons
    # Without a hedge, or beyond rounding, another value still contradicts.
    other = _judge(
        nlp, "Kroger agreed to a nearly $30 billion deal.", "Kroger agreed to a $24.6 billion deal."
    )
    assert other.label == CONTRADICTED, other.reasons


def test_a_compound_unit_is_the_same_unit(nlp: Annotator) -> None:
    same = _judge(
        nlp, "A magnitude 5.9 earthquake struck the east.", "A magnitude 5.9 quake struck the east."
    )
    assert same.checks["numbers"], same.reasons
    hours = _judge(nlp, "Putin declared a 30-day ceasefire.", "Putin declared a 30-hour ceasefire.")
    assert hours.label == CONTRADICTED


def test_a_weekday_is_read_against_each_articles_date(nlp: Annotator) -> None:
    claim = "Griner was sentenced to nine years on Thursday."
    # Published Friday 5 August 2022, "Thursday" is 4 August; published 9 August, "last Thursday" too.
    same_day = _judge(
        nlp,
        claim,
        "Griner was sentenced to nine years last Thursday.",
        published=("2022-08-05", "2022-08-09"),
    )
    assert same_day.checks.get("dates", True), same_day.reasons
    month = _judge(
        nlp, claim, "Griner was sentenced to nine years in August.", published=("2022-08-05", "2022-10-25")
    )
    assert month.label != CONTRADICTED, month.reasons
    other = _judge(
        nlp, claim, "Griner was sentenced to nine years on Thursday.", published=("2022-08-05", "2022-08-20")
    )
    assert other.label == CONTRADICTED and all("weekday" in r for r in other.reasons if "date" in r)
    # Without the articles' dates, weekdays compare as words.
    plain = _judge(nlp, claim, "Griner was sentenced to nine years last Thursday.")
    assert plain.checks.get("dates", True)


def test_a_spelled_out_duration_is_compared_and_an_age_is_no_duration(nlp: Annotator) -> None:
    five = _judge(
        nlp, "Griner was sentenced to nine years in prison.", "Griner was sentenced to five years in prison."
    )
    assert five.label == CONTRADICTED, five.reasons
    age = _judge(
        nlp,
        "The 37-year-old superstar and the Lakers agreed to a two-year contract extension.",
        "LeBron James agreed to a two-year extension of his contract with the Lakers.",
    )
    # The age is a detail the evidence lacks, not another length of contract.
    assert age.label != CONTRADICTED and age.reasons == ["the number '37' is not in the evidence"], (
        age.reasons
    )


def test_an_amount_among_several_others_of_its_unit_is_not_stated_not_contradicted(nlp: Annotator) -> None:
    several = _judge(
        nlp,
        "Borrowers will have $20,000 of their debt forgiven.",
        "Borrowers will have up to $10,000 forgiven, or $15,000 if they received a grant.",
    )
    assert several.label != CONTRADICTED and not several.checks["numbers"], several.reasons
    one = _judge(
        nlp,
        "Borrowers will have $20,000 of their debt forgiven.",
        "Borrowers will have $10,000 of their debt forgiven.",
    )
    assert one.label == CONTRADICTED


def test_calendar_dates_read_against_the_articles_date(nlp: Annotator) -> None:
    from datetime import date

    from qa.answer.article_dates import calendar_dates

    def days(text: str, published: str) -> list[date]:
        sent = nlp.annotate([text], persist=False)[0]
        return [date.fromordinal(int(q.value)) for q in calendar_dates(sent, published)]

    # Two dates in one entity; a year of its own or the article's.
    assert days("NASA has two new dates in mind: September 23 or September 27.", "2022-09-08") == [
        date(2022, 9, 23),
        date(2022, 9, 27),
    ]
    assert days("It launched on Nov. 16, 2021.", "2022-11-17") == [date(2021, 11, 16)]
    # A weekday: the last one when told of the past, the next one when told of what is to come.
    assert days("He was sentenced on Thursday.", "2022-08-05") == [date(2022, 8, 4)]
    assert days("The mission will get another attempt on Saturday.", "2022-08-30") == [date(2022, 9, 3)]
    assert days("He was sentenced on Thursday.", "") == []


def test_a_surname_that_opens_the_evidence_names_the_person(nlp: Annotator) -> None:
    claim, evidence = "Liz Truss won the leadership contest.", "Truss won the leadership contest on Monday."
    assert _judge(nlp, claim, evidence).checks["entities"]
    assert not _judge(nlp, claim, "Sunak won the leadership contest on Monday.").checks["entities"]


def test_a_name_spelt_without_its_accents_is_the_same_name(nlp: Annotator) -> None:
    claim = "Gustavo Petro defeated Rodolfo Hernandez in the runoff."
    evidence = "Gustavo Petro defeated Rodolfo Hernández, a businessman, in the runoff on Sunday."
    assert _judge(nlp, claim, evidence).checks["entities"]
    assert not _judge(nlp, "Gustavo Petro defeated Federico Gutiérrez in the runoff.", evidence).checks[
        "entities"
    ]


def test_a_sum_per_month_is_no_other_value_of_a_price(nlp: Annotator) -> None:
    """ "$8 a month" (a fee) and "$54.20 a share" measure two things; two fees per month are one measure."""
    fee = "Musk said Twitter users who agree to pay $8 a month will get a blue check mark."
    price = "Shareholders will receive $54.20 in cash for each share of Twitter stock they own."
    assert _judge(nlp, price, fee).label != CONTRADICTED
    assert _judge(nlp, fee, price).label != CONTRADICTED
    planned = "Twitter is considering charging users $19.99 a month for a blue check mark."
    assert _judge(nlp, fee, planned).label == CONTRADICTED
    slash = _judge(nlp, "Blue costs $8/month.", "Blue costs $4.99 a month.")
    assert slash.label == CONTRADICTED, slash.reasons


def test_a_day_of_a_calendar_date_is_no_quantity(nlp: Annotator) -> None:
    from qa.answer.facts import quantities

    died = nlp.annotate(["The Queen died September 8 after a rule spanning seven decades."], persist=False)[0]
    assert [q.text for q in quantities(died)] == ["seven"]  # "8" is the date's day; "seven decades" a span
    thirty = nlp.annotate(["Putin declared a 30-hour Easter ceasefire."], persist=False)[0]
    assert [(q.text, q.unit) for q in quantities(thirty)] == [("30", "hour")]  # a duration stays


def test_a_name_from_the_sentence_before_needs_a_word_standing_for_it(nlp: Annotator) -> None:
    before, title = nlp.annotate(
        ["The Oregon Lottery said one state needed more time.", "Lottery drawing delayed"], persist=False
    )
    context = {"context": [before, title]}
    # "its" already stands for the Idaho Lottery named before it: Oregon's is another system.
    evidence = "Later, the Idaho Lottery said its sales verification system caused the delay."
    other = _judge(nlp, "The Oregon Lottery's verification system caused the delay.", evidence, **context)
    assert not other.checks["entities"], other.reasons
    # A pronoun no name of the sentence stands for, a definite noun of the name's kind, and the
    # noun the name modified ("the Oregon delay" / "the delay") may each stand for the name.
    for evidence in (
        "It said its sales verification system caused the delay.",
        "The agency said its sales verification system caused the delay.",
        "Officials said a processing fault caused the delay.",
    ):
        claim = "The Oregon Lottery said its system caused the delay."
        if evidence.startswith("Officials"):
            claim = "A processing fault caused the Oregon delay."
        judged = _judge(nlp, claim, evidence, **context)
        assert judged.checks["entities"], (evidence, judged.reasons)


def test_a_claim_that_adds_all_or_completely_says_more_than_the_evidence(nlp: Annotator) -> None:
    evidence = "The storm damaged the old harbour bridge and several homes in the port town."
    for claim in (
        "The storm completely destroyed the old harbour bridge.",
        "The storm damaged all the homes in the port town.",
        "The storm damaged the entire port town.",
    ):
        judged = _judge(nlp, claim, evidence)
        assert not judged.checks.get("scope", True) and judged.label != ENTAILED, (claim, judged.reasons)
    assert _judge(nlp, "The storm damaged several homes in the port town.", evidence).checks["scope"]
    # Said on both sides (in other words), and the reciprocal "each other", match.
    both = _judge(nlp, "All the owners approved the sale.", "The owners unanimously approved the sale.")
    assert both.checks["scope"], both.reasons
    mutual = _judge(
        nlp, "The rivals accused each other of cheating.", "The rivals traded accusations of cheating."
    )
    assert mutual.checks["scope"], mutual.reasons
    # How often, and how much per item, are no claim to the whole.
    yearly = _judge(
        nlp, "The zoo draws 2 million visitors every year.", "The zoo draws 2 million visitors a year."
    )
    assert yearly.checks["scope"], yearly.reasons


def test_a_hyphenated_no_word_is_no_negation(nlp: Annotator) -> None:
    # "a no-hitter", "a no-fly zone": words, not a denied argument.
    claim = "The Astros threw a combined no-hitter against the Phillies."
    evidence = "The Astros produced a combined no-hitter against the Phillies on Wednesday."
    assert _judge(nlp, claim, evidence).checks["polarity"]
    assert _judge(nlp, "The Astros threw no hitter against the Phillies.", evidence).label != ENTAILED


def test_opposite_verbs_flip_the_polarity(nlp: Annotator) -> None:
    # WordNet makes "fell" and "climbed" opposites: the same slot, the same figure, another direction.
    fell = _judge(
        nlp, "Shares of the retailer fell 7% on Thursday.", "Shares of the retailer climbed 7% on Thursday."
    )
    assert fell.label == CONTRADICTED and fell.checks["polarity"] is False, fell
    assert any("opposite" in reason for reason in fell.reasons), fell
    rejected = _judge(nlp, "The council rejected the budget.", "The council approved the budget on Monday.")
    assert rejected.label == CONTRADICTED, rejected
    # Negating the opposite says the same thing; a synonym is no opposite.
    assert _judge(nlp, "The council did not reject the budget.", "The council approved the budget.").entailed
    assert _judge(nlp, "The council passed the budget.", "The council approved the budget.").checks[
        "polarity"
    ]
