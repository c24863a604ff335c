"""The verifier on labelled claims (evals/verifier_claims.jsonl) and on the false claims of issue 8.

Claims about the seed are checked against the seed index's passages; claims about
news articles against their article (read from ../shared, skipped if absent) as
one passage, as an LLM answer citing ``[1]`` would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.types import Passage
from tests.conftest import ROOT, SEED_ID, SEED_TEXT

pytestmark = [pytest.mark.slow, pytest.mark.eval]

CLAIMS = [
    json.loads(line)
    for line in (ROOT / "evals" / "verifier_claims.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
NEWS = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"
SEED_TITLE = json.loads((ROOT / "seeds" / f"{SEED_ID}.meta.json").read_text("utf-8"))["title"]

# The false claims a user found kept with `supported: true` (issue 8), and true paraphrases.
FALSE_CLAIMS = [
    "Putin is not open to dialogue on the proposal.",
    "Putin declared a 30-day Easter ceasefire.",
    "Ukraine rejected the concept of a 30-day ceasefire.",  # WordNet: "reject" is an antonym of "agree"'s
    "The April 13 missile strike killed at least 35 people in Kharkiv.",
    "Ukraine said the Sumy strike hit a meeting of Russian military officers.",
    "Biden threatened to withdraw efforts to mediate a peace deal.",
    "Russia agreed to the 30-day ceasefire without any conditions.",
    "The war in Ukraine is in its second year.",
    "A Russian missile strike on April 13 killed at least 53 people in Sumy.",
]
TRUE_CLAIMS = [
    "Putin is open to dialogue, according to the Kremlin spokesman.",
    "Putin declared a 30-hour Easter ceasefire.",
    "Ukraine had agreed to the concept of a 30-day ceasefire last month.",
    "A Russian missile strike killed at least 35 people in Sumy on April 13.",
    "Russia maintained it had struck a meeting of Ukrainian military officers.",
    "Donald Trump threatened to withdraw efforts to mediate a peace deal.",
    "There are no immediate plans for direct talks between Russia and Ukraine.",
]


def _seed_passage() -> Passage:
    return Passage(0, SEED_ID, SEED_TITLE, "", None, 0, len(SEED_TEXT), SEED_TEXT, 1.0)


def _kept(pipeline, claim: str, passage: Passage) -> bool:
    return pipeline.verifier.verify(f"{claim} [1]", [passage]).answered


@pytest.mark.parametrize("claim", FALSE_CLAIMS)
def test_false_claims_about_the_seed_are_dropped(seed_pipeline, claim: str) -> None:
    verified = seed_pipeline.verifier.verify(f"{claim} [1]", [_seed_passage()])
    assert not verified.answered, verified.citations
    sentence = verified.sentences[0]
    assert sentence.judgement is not None and sentence.judgement.reasons


@pytest.mark.parametrize("claim", TRUE_CLAIMS)
def test_true_paraphrases_are_kept_and_say_why(seed_pipeline, claim: str) -> None:
    verified = seed_pipeline.verifier.verify(f"{claim} [1]", [_seed_passage()])
    assert verified.answered, verified.sentences[0].judgement
    citation = verified.citations[0]
    assert SEED_TEXT[citation.start : citation.end] == citation.text
    assert citation.checks and all(citation.checks.values())
    assert 0 < citation.support <= 1


def test_a_marker_that_points_at_no_passage_is_not_retargeted(seed_pipeline) -> None:
    verified = seed_pipeline.verifier.verify(
        "Putin declared a 30-hour Easter ceasefire [7].", [_seed_passage()]
    )
    assert not verified.answered
    assert verified.sentences[0].judgement.checks == {"marker": False}


def test_labelled_claims_stay_at_least_as_well_judged_as_measured() -> None:
    """A regression floor on the dev claims (figures in the README; targets in issue 8)."""
    import tempfile

    from qa.config import Settings
    from qa.pipeline import Pipeline

    articles = {SEED_ID: (SEED_TITLE, SEED_TEXT)}
    if NEWS.exists():
        for line in NEWS.read_text("utf-8").splitlines():
            row = json.loads(line)
            articles[row["id"]] = (row["title"], row["text"])
    claims = [c for c in CLAIMS if c["doc_id"] in articles]
    assert len(claims) >= 100 or not NEWS.exists()
    assert {c["kind"] for c in claims if not c["supported"]} >= {
        "negation",
        "number",
        "entity",
        "role",
        "antonym",
    }
    pipeline = Pipeline(Settings(index_dir=Path(tempfile.mkdtemp()) / "index"))
    kept_true = dropped_false = n_true = n_false = 0
    for c in claims:
        title, text = articles[c["doc_id"]]
        kept = _kept(pipeline, c["claim"], Passage(0, c["doc_id"], title, "", None, 0, len(text), text, 1.0))
        if c["supported"]:
            n_true += 1
            kept_true += kept
        else:
            n_false += 1
            dropped_false += not kept
    assert dropped_false / n_false >= 0.85, (dropped_false, n_false)
    assert kept_true / n_true >= 0.75, (kept_true, n_true)
