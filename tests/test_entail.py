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
