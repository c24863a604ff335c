"""What a cited sentence answers (``qa.answer.cores``) and how another outlet's sentence is matched to it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from qa.answer.cores import cores, lemma_words, names, verb_of
from qa.answer.question import analyze
from qa.models.nlp import Annotator
from qa.pipeline import Pipeline
from qa.types import Article
from tests.conftest import articles_pipeline

QUESTION = "What prison sentence did a Russian court give the basketball player Dana Morrow?"
CITED = (
    "Basketball player Dana Morrow was sentenced to nine years in prison by a Russian court on Thursday "
    "after being convicted of smuggling cannabis oil."
)


def test_the_value_of_the_asked_nouns_own_verb_is_what_the_sentence_answers(annotator: Annotator) -> None:
    info = analyze(annotator.annotate([QUESTION], persist=False)[0])
    assert info.kind == "open" and info.focus == "sentence"
    verifier = SimpleNamespace(annotator=annotator)
    assert cores(None, CITED, info, verifier) == ["nine years"]  # type: ignore[arg-type]
    sent = annotator.annotate([CITED], persist=False)[0]
    thursday = next(e for e in sent.ents if e.text == "Thursday")
    assert not verb_of(sent, thursday, "sentence")  # the day dates the conviction, no sentence


@pytest.mark.parametrize(
    ("evidence", "named"),
    [
        ("Morrow lost her appeal last month against a nine-year drug sentence.", True),
        ("Morrow is serving nine years in a penal colony.", True),
        ("Morrow lost her appeal against a four-year sentence.", False),
        ("Morrow has spent nine months in detention.", False),
    ],
)
def test_a_value_is_named_whatever_its_word_form(annotator: Annotator, evidence: str, named: bool) -> None:
    core = annotator.annotate(["nine years"], persist=False)[0]
    sent = annotator.annotate([evidence], persist=False)[0]
    assert names("nine years", sent, lemma_words(core)) is named


ARTICLES = [
    Article(
        "wire-morrow",
        CITED
        + " Her lawyers said they would appeal. The case has strained relations between the two countries.",
        "Russian court sentences Dana Morrow",
        "Wire",
        "2022-08-04",
    ),
    Article(
        "daily-morrow",
        "Dana Morrow was moved to a penal colony on Wednesday, her lawyers said. "
        "Last month, Morrow lost her appeal against a nine-year drug sentence. "
        "Her family has called for her release.",
        "Morrow moved to penal colony",
        "Daily",
        "2022-11-09",
    ),
    Article(
        "other-case",
        "A Moscow court sentenced a former marine to four years in prison on Friday for assaulting police. "
        "His family said the charges were fabricated.",
        "Former marine sentenced in Moscow",
        "Wire",
        "2022-07-29",
    ),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Pipeline:
    return articles_pipeline(tmp_path_factory, embedder, "cores", ARTICLES)


def test_another_outlet_naming_the_sentence_in_other_words_corroborates_it(pipeline: Pipeline) -> None:
    answer = pipeline.ask(QUESTION)
    assert answer.answered and answer.citations[0].doc_id == "wire-morrow"
    block = answer.sources[0]
    assert [r.doc_id for r in block.supported_by] == ["daily-morrow"]
    assert "other-case" not in {r.doc_id for r in (*block.supported_by, *block.contradicted_by)}
