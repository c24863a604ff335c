"""The verifier at the default threshold on labelled claims about the seed (evals/verifier_claims.jsonl)."""

from __future__ import annotations

import json

import pytest

from qa.config import Settings
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.eval]

CLAIMS = [
    json.loads(line)
    for line in (ROOT / "evals" / "verifier_claims.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


def test_default_threshold_keeps_supported_claims_and_drops_most_unsupported(seed_pipeline) -> None:
    assert seed_pipeline.verifier.min_support == Settings().answer_min_support
    passages = seed_pipeline.search("Kremlin Putin Zelensky ceasefire Sumy talks", 20)
    kept = {c["claim"]: seed_pipeline.verifier.verify(c["claim"], passages).answered for c in CLAIMS}
    true_claims = [c["claim"] for c in CLAIMS if c["supported"]]
    false_claims = [c["claim"] for c in CLAIMS if not c["supported"]]
    assert len(true_claims) >= 20 and len(false_claims) >= 20
    assert all(kept[c] for c in true_claims), [c for c in true_claims if not kept[c]]
    dropped = sum(not kept[c] for c in false_claims) / len(false_claims)
    assert dropped >= 0.75, [c for c in false_claims if kept[c]]
    assert not kept["The moon is made of cheese."]


def test_a_cited_sentence_spans_the_article_exactly(seed_pipeline) -> None:
    from tests.conftest import SEED_TEXT

    passages = seed_pipeline.search("Sumy missile strike", 5)
    verified = seed_pipeline.verifier.verify(
        "A Russian missile strike killed at least 35 people in Sumy.", passages
    )
    assert verified.answered
    c = verified.citations[0]
    assert SEED_TEXT[c.start : c.end] == c.text and "Sumy" in c.text
