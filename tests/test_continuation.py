"""A sentence that goes on about whom the one before it names ("... has died. She was 87.") is read
with that sentence: the answerer quotes both, the verifier keeps the short one only right after its
lead, and the short answer is a span of the second (real spaCy, MiniLM and FAISS)."""

from __future__ import annotations

import pytest

from qa.answer.attachment import restates
from qa.answer.evidence import Candidate, goes_on
from qa.models.nlp import Annotator, joined
from qa.pipeline import Pipeline
from qa.types import Article
from tests.conftest import articles_pipeline
from tests.parsed import ent, parse

pytestmark = pytest.mark.slow

OBITUARY = (
    "Marta Quill, the folk singer whose ballads about mill towns filled concert halls for four decades, "
    "has died.\nShe was 87.\n\nHer family said she died Tuesday at her home in Astoria, Oregon. "
    "Quill recorded 23 albums and toured with her brother until 2011."
)
TRUST = (
    "The Harlow Trust ran the Riverhawks after Dan Harlow stepped back from the team in 2014. "
    "He died in 2019, one month before his induction into the Northern Football Hall of Fame. "
    "The trust said on Monday that the sale of the Riverhawks would close by the end of the year."
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Pipeline:
    articles = [
        Article("quill", OBITUARY, "Folk singer Marta Quill dies at 87", "Daily Ledger", "2022-10-05"),
        Article("harlow", TRUST, "Riverhawks sale to close this year", "Daily Ledger", "2022-08-09"),
    ]
    return articles_pipeline(tmp_path_factory, embedder, "continuation", articles)


def test_two_sentences_joined_keep_their_offsets_and_parses(annotator: Annotator) -> None:
    lead, then = parse(annotator, "Marta Quill has died."), parse(annotator, "She was 87.")
    both = joined(lead, "\n\n", then)
    assert both.text == "Marta Quill has died.\n\nShe was 87."
    age = ent(both, "87")
    assert both.text[age.start : age.end] == "87"
    # The second sentence keeps its own root: its tokens point inside it, not into the first.
    assert all(t.head >= len(lead.toks) for t in both.toks[len(lead.toks) :])
    assert restates(both, age)


def test_only_a_copula_about_the_pronoun_restates(annotator: Annotator) -> None:
    assert restates(parse(annotator, "He was 68."), ent(parse(annotator, "He was 68."), "68"))
    died = parse(annotator, "He died in 2019, one month before his induction into the Hall of Fame.")
    assert not restates(died, ent(died, "2019"))
    named = parse(annotator, "Harlow was 68.")
    assert not restates(named, ent(named, "68"))


def test_a_sentence_goes_on_only_from_the_one_right_before_it() -> None:
    lead = Candidate(1, "d", 0, 21, "Marta Quill has died.")
    assert goes_on(lead, Candidate(1, "d", 22, 33, "She was 87.")) == 1
    assert not goes_on(lead, Candidate(1, "d", 60, 71, "She was 87."))  # another paragraph on
    assert not goes_on(lead, Candidate(1, "other", 22, 33, "She was 87."))
    assert not goes_on(lead, Candidate(1, "d", 22, 37, "Quill was 87."))


def test_an_age_stated_after_the_death_answers_with_both_sentences(pipeline: Pipeline) -> None:
    answer = pipeline.ask("How old was folk singer Marta Quill when she died?")
    assert answer.answered, answer
    assert answer.short_answer is not None and answer.short_answer.text == "87"
    short = answer.short_answer
    assert OBITUARY[short.start : short.end] == "87"
    cited = {c.n: c for c in answer.citations}
    assert cited[short.citation].text == "She was 87."
    # The sentence that says who "she" is is quoted first.
    assert answer.citations[0].text.startswith("Marta Quill, the folk singer")


def test_a_following_sentence_about_something_else_answers_nothing(pipeline: Pipeline) -> None:
    answer = pipeline.ask("Which bank did the Harlow Trust hire to run the sale of the Riverhawks?")
    assert not answer.answered, answer.answer


def test_the_verifier_keeps_a_short_quote_only_right_after_its_lead(pipeline: Pipeline) -> None:
    passages = pipeline.search("Marta Quill folk singer died age", 3)
    n = next(k for k, p in enumerate(passages, 1) if p.doc_id == "quill")
    lead = "Marta Quill, the folk singer whose ballads about mill towns filled concert halls for four decades, has died."
    kept = pipeline.verifier.verify(f"{lead} [{n}] She was 87. [{n}]", passages)
    assert [s.supported for s in kept.sentences] == [True, True]
    assert kept.citations[1].text == "She was 87."
    # Alone, two words prove nothing ("She was 87." could be anyone): dropped.
    alone = pipeline.verifier.verify(f"She was 87. [{n}]", passages)
    assert not alone.answered


def test_another_outlets_short_continuation_corroborates(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> None:
    wire = "Folk singer Marta Quill has died at 87, her family said. Quill recorded 23 albums."
    articles = [
        Article("quill", OBITUARY, "Folk singer Marta Quill dies at 87", "Daily Ledger", "2022-10-05"),
        Article(
            "quill-wire", wire, "Marta Quill, folk singer of the mill towns, dies", "Coast Wire", "2022-10-05"
        ),
    ]
    p = articles_pipeline(tmp_path_factory, embedder, "continuation-corroboration", articles)
    answer = p.ask("How old was folk singer Marta Quill when she died?")
    assert answer.answered and answer.short_answer is not None and answer.short_answer.text == "87"
    cited = {c.n: c.doc_id for c in answer.citations}
    found = {cited[b.citation] for b in answer.sources} | {
        r.doc_id for b in answer.sources for r in b.supported_by
    }
    # "She was 87." alone is too short to judge: read with the sentence before it, it corroborates.
    assert found == {"quill", "quill-wire"}, answer.sources


def test_a_claim_is_judged_against_a_sentence_read_with_its_short_continuation(pipeline: Pipeline) -> None:
    passages = pipeline.search("Marta Quill folk singer died age", 3)
    n = next(k for k, p in enumerate(passages, 1) if p.doc_id == "quill")
    kept = pipeline.verifier.verify(f"Folk singer Marta Quill died at the age of 87 [{n}].", passages)
    assert kept.answered, kept.sentences[0].judgement
    cited = kept.citations[0]
    # The citation is the article's own text, the line break between the sentences included.
    assert cited.text.endswith("has died.\nShe was 87.") and OBITUARY[cited.start : cited.end] == cited.text
    # The joined reading states no other age: a wrong one is still dropped.
    wrong = pipeline.verifier.verify(f"Folk singer Marta Quill died at the age of 78 [{n}].", passages)
    assert not wrong.answered
