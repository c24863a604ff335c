"""Near-duplicate detection (issue 13): copies of one article are one origin, related articles are not."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.dedup import OriginIndex, Signature, normalize, origin_groups
from qa.types import Article
from tests.conftest import SEED_TEXT

OTHER = (
    "JetBlue has agreed to buy Spirit Airlines for $3.8 billion, the airlines said Thursday, ending a "
    "months-long bidding war with Frontier. The deal would create the fifth-largest airline in the United "
    "States. Regulators are expected to scrutinize the combination closely, and the Justice Department has "
    "already sued to block JetBlue's partnership with American Airlines in the Northeast. Spirit "
    "shareholders had rejected an earlier offer from Frontier, which was worth about $2.9 billion. The "
    "companies said they expected the deal to close in the first half of 2024, pending approval."
)


def test_normalizing_ignores_case_and_punctuation_styles() -> None:
    assert normalize("“Don’t” — he SAID.") == normalize('"Don\'t" - he said')


def test_the_same_article_under_another_url_is_a_copy() -> None:
    curly = SEED_TEXT.replace('"', "“").replace("'", "’")
    assert Signature.of(SEED_TEXT).copies(Signature.of(curly))
    assert Signature.of(SEED_TEXT).jaccard(Signature.of(SEED_TEXT)) == 1.0


def test_a_truncated_copy_and_an_extended_version_are_copies() -> None:
    words = SEED_TEXT.split()
    truncated = " ".join(words[: len(words) * 2 // 5])
    extended = SEED_TEXT + "\n\n" + OTHER
    seed = Signature.of(SEED_TEXT)
    assert seed.copies(Signature.of(truncated))
    assert seed.containment(Signature.of(truncated)) > 0.9
    assert seed.copies(Signature.of(extended))


def test_another_story_and_a_short_quote_are_not_copies() -> None:
    seed = Signature.of(SEED_TEXT)
    assert not seed.copies(Signature.of(OTHER))
    assert seed.jaccard(Signature.of(OTHER)) < 0.05
    # A caption that quotes one paragraph: contained in the article, but a different page.
    quote = " ".join(SEED_TEXT.split()[:40])
    assert not seed.copies(Signature.of(quote))
    # Too short to say anything.
    assert not Signature.of("Five words only here.").copies(Signature.of("Five words only here."))


def test_origin_groups_join_copies_of_copies() -> None:
    words = SEED_TEXT.split()
    sigs = {
        "a": Signature.of(SEED_TEXT),
        "b": Signature.of(" ".join(words[: len(words) * 3 // 5])),
        "c": Signature.of(SEED_TEXT + " " + OTHER),
        "d": Signature.of(OTHER),
    }
    assert origin_groups(sigs, ["d", "a", "b", "c", "e"]) == [["d"], ["a", "b", "c"], ["e"]]


def test_signatures_are_stored_beside_the_index(tmp_path: Path) -> None:
    index = OriginIndex(tmp_path)
    seed = Article("seed", SEED_TEXT, source="CNN")
    copy = Article("copy", SEED_TEXT.replace("\n\n", "\n"), source="USA Today")
    other = Article("other", OTHER, source="CNN")
    assert index.record([seed, copy, other]) == 3
    assert index.record([seed, copy, other]) == 0  # unchanged texts are not signed again
    assert (tmp_path / "origins.sqlite").exists()
    assert OriginIndex(tmp_path).groups(["seed", "other", "copy"]) == [["seed", "copy"], ["other"]]
    # A replaced text is signed again; a deleted article is forgotten.
    assert index.record([Article("copy", OTHER)]) == 1
    assert index.groups(["seed", "other", "copy"]) == [["seed"], ["other", "copy"]]
    assert index.forget(["other"]) == ["other"]
    assert set(index.signatures(["seed", "other", "copy"])) == {"seed", "copy"}
