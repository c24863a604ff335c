"""The offline answerer reads what a question asks for, quotes only a sentence that holds it, and
declines otherwise; short answers, confidence and follow-ups (issue 8)."""

from __future__ import annotations

import pytest

from qa.answer.backends import Turn
from qa.answer.question import analyze
from qa.models.nlp import Annotator
from qa.types import Article
from tests.conftest import SEED_TEXT, articles_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    return Annotator()


@pytest.mark.parametrize(
    ("question", "kind", "predicate"),
    [
        ("Who threatened to withdraw efforts to mediate a peace deal?", "person", "threaten"),
        ("Where will the upcoming talks be held?", "place", "hold"),
        ("When did the strike on Sumy happen?", "date", ""),
        ("How many people were injured in the Sumy missile strike?", "quantity", "injure"),
        ("Which Houston pitcher got the final three outs?", "named", "out"),
        ("What year did the war start?", "date", "start"),
        ("Are there immediate plans for direct talks?", "yesno", "plan"),
        # An auxiliary first asks yes or no, whatever wh-clause follows.
        ("Did North Korea reveal how many infections it found?", "yesno", "reveal"),
        ("What did Russia say it had struck?", "open", "strike"),
        # A count after "which" says how many answers are asked; the noun still types them.
        ("Which two states' voters approved legalizing marijuana?", "named", "approve"),
    ],
)
def test_questions_are_read_for_their_answer_type_and_predicate(
    annotator: Annotator, question: str, kind: str, predicate: str
) -> None:
    info = analyze(annotator.annotate([question], persist=False)[0])
    assert info.kind == kind
    if question.startswith("Which two"):
        assert info.focus == "state"
    if predicate:
        assert predicate in {info.predicate, *info.also}, info


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Who threatened to withdraw efforts to mediate a peace deal?", "Donald Trump"),
        ("How many people were killed in the missile strike on Sumy?", "at least 35"),
        ("Where will the upcoming talks with U.S. and European leaders be held?", "London"),
        ("How long was the Easter ceasefire declared by Putin?", "30-hour"),
    ],
)
def test_a_typed_question_gets_a_short_answer_inside_its_citation(
    seed_pipeline, question: str, short: str
) -> None:
    answer = seed_pipeline.ask(question)
    assert answer.answered
    sa = answer.short_answer
    assert sa is not None and sa.text == short
    assert SEED_TEXT[sa.start : sa.end] == sa.text
    cited = next(c for c in answer.citations if c.n == sa.citation)
    assert cited.start <= sa.start < sa.end <= cited.end
    assert 0 < answer.confidence <= 1


@pytest.mark.parametrize(
    "question",
    [
        "How many people were injured in the Sumy missile strike?",  # only the number killed is stated
        "Who won the 2024 Eurovision Song Contest?",
        "Which European leaders attended the talks in London?",
        "What was the price of Brent crude oil after the Sumy strike?",
    ],
)
def test_near_miss_questions_are_declined(seed_pipeline, question: str) -> None:
    answer = seed_pipeline.ask(question)
    assert not answer.answered, answer.answer
    assert answer.citations == [] and answer.short_answer is None


def test_no_padding_sentence_for_an_open_question(seed_pipeline) -> None:
    answer = seed_pipeline.ask("What conditions did Russia set?")
    assert answer.answered and len(answer.citations) == 1
    assert "series of conditions" in answer.citations[0].text


def test_citation_scores_tell_strong_from_weak(seed_pipeline) -> None:
    strong = seed_pipeline.ask("How many people were killed in the missile strike on Sumy?")
    weak = seed_pipeline.ask("What conditions did Russia set?")
    assert strong.citations[0].score != weak.citations[0].score
    assert all(0 < c.score < 1 for c in [*strong.citations, *weak.citations])


def test_a_follow_up_is_answered_about_its_own_predicate(seed_pipeline) -> None:
    history = [
        Turn("user", "How many people were killed in the missile strike on Sumy?"),
        Turn(
            "assistant",
            seed_pipeline.ask("How many people were killed in the missile strike on Sumy?").answer,
        ),
    ]
    answer = seed_pipeline.ask("And what did Russia claim it hit?", history=history)
    assert answer.answered
    assert "meeting of Ukrainian military officers" in answer.answer
    assert "killed at least 35" not in answer.answer


def test_a_transitive_question_verb_is_not_stated_by_its_prepositional_use(annotator: Annotator) -> None:
    from qa.answer.syntax import prepositional_use

    info = analyze(annotator.annotate(["And what did Ukraine call it?"], persist=False)[0])
    assert info.predicate == "call" and info.transitive
    sent = annotator.annotate(["He kept calling for a clear response from Moscow."], persist=False)[0]
    verb = next(i for i, t in enumerate(sent.toks) if t.lemma == "call")
    assert prepositional_use(sent, verb)
    sent = annotator.annotate(["Ukraine called the attack a deliberate assault."], persist=False)[0]
    verb = next(i for i, t in enumerate(sent.toks) if t.lemma == "call")
    assert not prepositional_use(sent, verb)


def test_an_answer_attached_to_the_asked_predicate_is_linked(annotator: Annotator) -> None:
    from qa.answer.assess import assess

    info = analyze(annotator.annotate(["Who won the tournament in Bangkok?"], persist=False)[0])
    linked = annotator.annotate(["Dustin Johnson won the tournament in Bangkok."], persist=False)[0]
    beside = annotator.annotate(["The tournament in Bangkok was watched by Dustin Johnson."], persist=False)[
        0
    ]
    # No embeddings: only the same lemma counts as the predicate here.
    fit = assess(info, linked, 0.8)
    assert [e.text for e in fit.linked] == ["Dustin Johnson"]
    assert assess(info, beside, 0.8).linked == []
    assert info.constraints == ("Bangkok",)


def test_a_yes_no_question_is_answered_only_by_a_sentence_that_decides_it(seed_pipeline) -> None:
    """Stated or denied (the question read as the verifier's claim) is an answer; topical is not."""
    denied = seed_pipeline.ask("Are there immediate plans for direct talks between Russia and Ukraine?")
    assert denied.answered and "no immediate plans" in denied.answer
    stated = seed_pipeline.ask("Is Putin willing to discuss the proposal?")
    assert stated.answered and "willing to discuss" in stated.answer
    open_to = seed_pipeline.ask("Is Putin open to talks on civilian infrastructure?")
    assert open_to.answered and "open to dialogue" in open_to.answer
    # Each of these got the lead sentence (or another topical one) quoted before.
    for question in (
        "Did Putin sign a peace treaty with Zelensky?",
        "Did Russia apologize for the Sumy strike?",
        "Has Ukraine's president met Putin in London?",
    ):
        answer = seed_pipeline.ask(question)
        assert not answer.answered, (question, answer.answer)


def test_a_yes_no_question_reads_the_title_for_whom_the_sentence_calls_otherwise(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> None:
    """ "The teenager has become ..." decides "Has Lena Varga become ...?" in an article whose title
    names her, as the verifier reads it; an article that never names her decides nothing."""
    text = (
        "Crowds cheered on the quay in Lisbon on Monday. The teenager has become the youngest person "
        "to sail solo around the world, after 240 days at sea."
    )
    named = Article(
        "varga", text, "Lena Varga becomes youngest to sail solo around the world", "Wire", "2022-08-24"
    )
    pipeline = articles_pipeline(tmp_path_factory, embedder, "yesno-title", [named])
    answer = pipeline.ask("Has Lena Varga become the youngest person to sail solo around the world?")
    assert answer.answered and "has become the youngest person" in answer.answer, answer.answer
    other = Article("other", text, "Teenager sets sailing record", "Wire", "2022-08-24")
    unnamed = articles_pipeline(tmp_path_factory, embedder, "yesno-untitled", [other])
    assert not unnamed.ask(
        "Has Lena Varga become the youngest person to sail solo around the world?"
    ).answered


def test_a_marker_before_a_capital_ends_a_claim_without_a_full_stop() -> None:
    """A quoted headline has no full stop: its marker still ends it, so each quote is verified alone."""
    from qa.answer.verify import split_claims

    draft = "TIMELINE:Queen Elizabeth II dies at 96: Her life, royal reign [3] After 70 years, she died. [5]"
    assert split_claims(draft) == [
        ("TIMELINE:Queen Elizabeth II dies at 96: Her life, royal reign", [3]),
        ("After 70 years, she died.", [5]),
    ]
    # A marker inside a sentence, before a lower-case word, does not end it.
    assert split_claims("Putin said [1] that talks were possible.") == [
        ("Putin said that talks were possible.", [1])
    ]
