"""Sentence spans and chunks are exact offsets into the article: citations quote them verbatim."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.ingest.chunk import chunk_article, embedding_text, sentence_spans
from qa.types import Article
from tests.conftest import SEED_TEXT

_WORD = re.compile(r"\S+")


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def words(text: str) -> int:
    return len(_WORD.findall(text))


def assert_span_invariants(text: str, spans: list[tuple[int, int]]) -> None:
    """Spans are non-empty, ordered, disjoint, trimmed, within one line, and cover every non-space char."""
    covered = [False] * len(text)
    previous_end = 0
    for start, end in spans:
        assert 0 <= previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip(), f"span {piece!r} has surrounding whitespace"
        assert "\n" not in piece, f"span {piece!r} crosses a line break"
        for i in range(start, end):
            covered[i] = True
        previous_end = end
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not lost, f"characters outside every span: {[text[i] for i in lost]}"


def effective_sentences(text: str, max_words: int) -> list[tuple[int, int]]:
    """Sentence spans as chunking sees them: over-long ones cut into max_words pieces."""
    out: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        found = list(_WORD.finditer(text, start, end))
        for i in range(0, len(found), max_words):
            group = found[i : i + max_words]
            out.append((group[0].start(), group[-1].end()))
    return out


def assert_chunk_invariants(article: Article, max_words: int, overlap: int = 1) -> None:
    chunks = chunk_article(article, max_words, overlap)
    text = article.text
    units = effective_sentences(text, max_words)
    if not units:
        assert chunks == []
        return
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.doc_id == article.id
        assert text[c.start : c.end] == c.text
        assert words(c.text) <= max_words
        # Chunks are runs of whole sentences (or pieces of one over-long sentence).
        assert c.start in {s for s, _ in units} and c.end in {e for _, e in units}
    for s, e in units:
        assert any(c.start <= s and e <= c.end for c in chunks), f"sentence {text[s:e]!r} not in any chunk"
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start and a.end < b.end, "a chunk repeats (part of) its predecessor only"
        in_a = [u for u in units if a.start <= u[0] and u[1] <= a.end]
        shared = [u for u in in_a if b.start <= u[0]]
        assert len(shared) <= overlap
        if overlap and not shared:
            # Overlap is dropped only when the chunk was one unit or the tail plus the next unit can't fit.
            nxt = next(u for u in units if u[0] >= a.end)
            assert (
                len(in_a) == 1
                or words(text[in_a[-1][0] : in_a[-1][1]]) + words(text[nxt[0] : nxt[1]]) > max_words
            )


# -- sentence_spans ------------------------------------------------------------------------


def test_spans_are_exact_slices_without_surrounding_whitespace() -> None:
    text = "  First sentence here.   Second one!\tThird?  \n\n  Fourth line  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["First sentence here.", "Second one!", "Third?", "Fourth line"]
    assert_span_invariants(text, spans)


def test_spans_of_a_range_are_offsets_into_the_whole_text() -> None:
    text = "Skip this. Keep this one. And this."
    start = text.index("Keep")
    spans = sentence_spans(text, start)
    assert [text[a:b] for a, b in spans] == ["Keep this one.", "And this."]
    assert spans[0][0] == start


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith went to Washington. He liked it.", ["Mr. Smith went to Washington.", "He liked it."]),
        ("Mrs. Jones and Dr. Who met. They talked.", ["Mrs. Jones and Dr. Who met.", "They talked."]),
        ("The U.S. Army left. Then it rained.", ["The U.S. Army left.", "Then it rained."]),
        ("The U.S. Senate voted. It passed.", ["The U.S. Senate voted.", "It passed."]),
        (
            "He flew to Washington, D.C. On arrival he spoke.",
            ["He flew to Washington, D.C. On arrival he spoke."],
        ),
        (
            "Officials in D.C. Council chambers voted. Done.",
            ["Officials in D.C. Council chambers voted.", "Done."],
        ),
        ("The vote was at 9 a.m. Monday. It passed.", ["The vote was at 9 a.m. Monday.", "It passed."]),
        ("J. K. Rowling wrote it. She is rich.", ["J. K. Rowling wrote it.", "She is rich."]),
        ("George W. Bush spoke. Crowds cheered.", ["George W. Bush spoke.", "Crowds cheered."]),
        ("Acme Inc. Chief Jane Roe quit. Shares fell.", ["Acme Inc. Chief Jane Roe quit.", "Shares fell."]),
        ("Growth was 3.5 percent. Next year 4.", ["Growth was 3.5 percent.", "Next year 4."]),
        ("E.U. rules apply. U.K. rules differ.", ["E.U. rules apply.", "U.K. rules differ."]),
        ("Wait... What happened? Nobody knows!", ["Wait...", "What happened?", "Nobody knows!"]),
    ],
)
def test_abbreviations_and_initials_do_not_end_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected
    assert_span_invariants(text, sentence_spans(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Go now," he said. "I will." Then he left.', ['"Go now," he said.', '"I will."', "Then he left."]),
        ('He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
        ("“We are ready,” he said. “Truly.” Fine.", ["“We are ready,” he said.", "“Truly.”", "Fine."]),
        ("It ended (finally.) Good news.", ["It ended (finally.)", "Good news."]),
        ("She asked: 'why?' nobody knew.", ["She asked: 'why?' nobody knew."]),
    ],
)
def test_closing_quotes_stay_with_their_sentence(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_newlines_always_end_sentences() -> None:
    text = (
        "HEADLINE WITHOUT A PERIOD\nKYIV, Ukraine — the dateline line\nmid sentence, lower case\r\nnext. Two."
    )
    assert sentences(text) == [
        "HEADLINE WITHOUT A PERIOD",
        "KYIV, Ukraine — the dateline line",
        "mid sentence, lower case",
        "next.",
        "Two.",
    ]
    assert_span_invariants(text, sentence_spans(text))


def test_lowercase_after_period_does_not_split() -> None:
    assert sentences("The plan, e.g. a ceasefire, failed. it was odd.") == [
        "The plan, e.g. a ceasefire, failed. it was odd."
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert sentence_spans(text) == []


# -- chunk_article -------------------------------------------------------------------------


def numbered_sentences(n: int, length: int = 5) -> str:
    return " ".join(" ".join([f"S{i}w{j}" for j in range(length - 1)] + [f"s{i}end."]) for i in range(n))


def test_chunks_are_slices_with_one_sentence_overlap() -> None:
    article = Article("doc", numbered_sentences(12), title="T")
    chunks = chunk_article(article, max_words=20, overlap_sentences=1)
    assert len(chunks) > 2
    spans = sentence_spans(article.text)
    for a, b in itertools.pairwise(chunks):
        in_a = [s for s in spans if a.start <= s[0] and s[1] <= a.end]
        assert b.start == in_a[-1][0], "the next chunk starts with this chunk's last sentence"
        assert words(a.text) == 20
    assert_chunk_invariants(article, 20)


def test_zero_overlap_chunks_tile_the_sentences() -> None:
    article = Article("doc", numbered_sentences(9))
    chunks = chunk_article(article, max_words=15, overlap_sentences=0)
    assert [words(c.text) for c in chunks] == [15, 15, 15]
    for a, b in itertools.pairwise(chunks):
        assert a.end < b.start
    assert sum(words(c.text) for c in chunks) == 45
    assert_chunk_invariants(article, 15, overlap=0)


def test_over_long_sentence_is_split_at_words() -> None:
    long = " ".join(f"w{i}" for i in range(50)) + "."
    article = Article("doc", f"Short intro here. {long} Short outro.")
    chunks = chunk_article(article, max_words=20)
    assert all(words(c.text) <= 20 for c in chunks)
    # Every word of the long sentence is in some chunk, and no chunk cuts a word in half.
    for m in _WORD.finditer(article.text):
        assert any(c.start <= m.start() and m.end() <= c.end for c in chunks)
    for c in chunks:
        assert c.start == 0 or article.text[c.start - 1].isspace()
        assert c.end == len(article.text) or article.text[c.end].isspace()
    assert_chunk_invariants(article, 20)


def test_no_chunk_is_only_a_repeat_of_its_predecessors_tail() -> None:
    # Regression: "3 words + 6 words" fills chunk 0; the 8-word sentence doesn't fit after the
    # 6-word overlap, which used to produce a chunk holding only the 6-word sentence again.
    text = "One two three. Four five six seven eight nine. Ten eleven twelve thirteen fourteen fifteen sixteen x."
    chunks = chunk_article(Article("doc", text), max_words=10)
    assert [c.text for c in chunks] == [
        "One two three. Four five six seven eight nine.",
        "Ten eleven twelve thirteen fourteen fifteen sixteen x.",
    ]


def test_seed_article_chunks() -> None:
    article = Article("seed", SEED_TEXT)
    for max_words in (20, 60, 120):
        assert_chunk_invariants(article, max_words)


def test_embedding_text_prefixes_the_title() -> None:
    assert embedding_text("Title", "Body.") == "Title\nBody."
    assert embedding_text("", "Body.") == "Body."


# -- properties ----------------------------------------------------------------------------

_letters = st.sampled_from(list("abcxyzABCXYZéÉßøΩжЖ中文0189"))
_word = st.one_of(
    st.text(_letters, min_size=1, max_size=8),
    st.sampled_from(
        ["Mr.", "U.S.", "D.C.", "a.m.", "J.", "e.g.", "3.5", "—", "“quoted”", "(aside)", "’s", "..."]
    ),
)
_end = st.sampled_from([".", "!", "?", "...", '."', ".”", "?)", "…", ""])
_sep = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n ", "\u00a0", "\r\n", "\u2003"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts: list[str] = [draw(st.sampled_from(["", " ", "\n"]))]
    for _ in range(draw(st.integers(0, 12))):
        sentence = " ".join(draw(st.lists(_word, min_size=1, max_size=30)))
        parts.append(sentence + draw(_end) + draw(_sep))
    return "".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts())
def test_property_spans_exact_and_covering(text: str) -> None:
    assert_span_invariants(text, sentence_spans(text))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_spans_on_arbitrary_unicode(text: str) -> None:
    assert_span_invariants(text, sentence_spans(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), st.integers(3, 40), st.integers(0, 2))
def test_property_chunks(text: str, max_words: int, overlap: int) -> None:
    assert_chunk_invariants(Article("doc", text), max_words, overlap)


def test_readers_cache_by_digest_and_never_hold_a_long_text() -> None:
    """Question-time caches (spans, stems, name words) stay small whatever the articles' size."""
    from qa.answer.facts import _cached_norm_words, norm_words
    from qa.ingest import chunk
    from qa.text import CACHED_CHARS, _cached_stems, content_stems

    article = "The council met on Monday. " * 40_000  # about a megabyte
    first = chunk.sentence_spans(article)
    assert chunk.sentence_spans(article) == first and len(first) == 40_000
    assert all(isinstance(k, bytes) and len(k) == 16 for k in chunk._SPANS)  # digests, not texts
    assert len(chunk._SPANS) <= chunk.SPANS_CACHED
    stems, words = _cached_stems.cache_info().currsize, _cached_norm_words.cache_info().currsize
    long_text = "council " * CACHED_CHARS
    assert content_stems(long_text)[:1] == ["council"] and norm_words(long_text)[:1] == ["council"]
    assert _cached_stems.cache_info().currsize == stems  # read afresh, not kept
    assert _cached_norm_words.cache_info().currsize == words
    assert content_stems("The councils voted") == content_stems("The councils voted") == ["council", "vote"]
