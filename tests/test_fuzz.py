"""Fuzzing (hypothesis) of the parsers that read text from outside: the sentence splitter, the
citation parser and the upload parsers.

Each test counts the examples it ran and prints the count (``pytest -s`` shows them) and records
it as a junit property, so a run states how much was fuzzed.  Examples are derandomized, so CI
sees the same inputs every run; raise ``FUZZ_SCALE`` locally for a longer search.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answer.verify import split_claims
from qa.errors import QAError
from qa.ingest import chunk as chunking
from qa.ingest.load import Problem, iter_jsonl, parse_upload
from qa.text import MARKER

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> Callable:  # type: ignore[type-arg]
    return settings(
        max_examples=int(examples * SCALE),
        deadline=None,
        derandomize=True,
        database=None,
        # The counter fixture is meant to persist across examples.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


@pytest.fixture
def count(
    record_property: Callable[[str, object], None], request: pytest.FixtureRequest
) -> Iterator[list[int]]:
    """A one-item counter the test bumps per example; reported when the test ends."""
    counter = [0]
    yield counter
    record_property("fuzz_examples", counter[0])
    print(f"\nfuzz {request.node.name}: {counter[0]} examples")


# -- the sentence splitter ---------------------------------------------------------------------

# The boundary pattern before it was made linear: fine on short text, and the reference for spans.
OLD_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
PIECES = [".", "!", "?", "…", " ", "  ", "\n", "\t", '"', "'", "”", "’", ")", "]", "(", "[", "“", "‘"]
WORDS = ["a", "The", "Mr", "U.S", "Dr", "J", "no", "1", "É", "x.y", "etc", "e.g", "Hi"]
splitter_text = st.lists(st.sampled_from(PIECES + WORDS), max_size=60).map("".join) | st.text(max_size=200)


@fuzz_settings(2000)
@given(text=splitter_text)
def test_fuzz_sentence_spans(text: str, count: list[int]) -> None:
    count[0] += 1
    spans = chunking.sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and "\n" not in piece
        previous_end = end
    # Every non-space character is in some span: nothing is lost.
    covered = sum(end - start for start, end in spans)
    assert covered >= len("".join(text.split()))
    # The linear pattern splits exactly as the old one did.
    with patch.object(chunking, "_BOUNDARY", OLD_BOUNDARY):
        assert chunking.sentence_spans(text) == spans


# -- the citation parser -----------------------------------------------------------------------

MARKERS = ["[1]", "[2]", "[12]", "[1, 2]", "[1,3]", " [4]", "[999]", "[1000]", "[", "]", "[x]", "[]"]
draft_text = st.lists(
    st.sampled_from(MARKERS + PIECES + WORDS + ["said", "rose", ",", ";", ":"]), max_size=60
).map("".join) | st.text(max_size=300)


@fuzz_settings(2000)
@given(answer=draft_text)
def test_fuzz_split_claims(answer: str, count: list[int]) -> None:
    count[0] += 1
    claims = split_claims(answer)
    cited = {int(n) for group in MARKER.findall(answer) for n in re.split(r"\s*,\s*", group)}
    for text, numbers in claims:
        assert text and text == text.strip()
        assert not MARKER.search(text)
        assert all(0 <= n <= 999 for n in numbers)
        assert set(numbers) <= cited  # only numbers that were written as markers


# -- the upload parsers ------------------------------------------------------------------------

NAMES = [
    "a.txt",
    "a.md",
    "a.markdown",
    "a.jsonl",
    "a.ndjson",
    "",
    "noname",
    "x.png",
    "../../etc/p.txt",
    "a.TXT",
]
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
article_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=20) | st.integers(),
        "text": st.text(max_size=80),
        "title": st.text(max_size=20),
        "published_at": st.text(max_size=12) | st.integers(),
        "source": st.text(max_size=10),
    },
)
jsonl_bytes = st.lists(
    st.one_of(
        article_like.map(json.dumps), json_value.map(json.dumps), st.text(max_size=40), st.just("")
    ).map(lambda line: line.encode("utf-8", "surrogatepass")),
    max_size=6,
).map(b"\n".join)
upload_bytes = jsonl_bytes | st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8"))


def check_upload(name: str, data: bytes) -> None:
    try:
        articles, problems = parse_upload(name, data)
    except QAError as exc:
        assert 400 <= exc.status < 500 and exc.public
        return
    for article in articles:
        assert article.id and article.text.strip()
    for problem in problems:
        assert isinstance(problem, Problem) and problem.reason


@fuzz_settings(1500)
@given(name=st.sampled_from(NAMES), data=upload_bytes)
def test_fuzz_parse_upload(name: str, data: bytes, count: list[int]) -> None:
    count[0] += 1
    check_upload(name, data)


@fuzz_settings(1500)
@given(lines=st.lists(st.binary(max_size=60) | jsonl_bytes, max_size=8))
def test_fuzz_iter_jsonl(lines: list[bytes], count: list[int]) -> None:
    count[0] += 1
    for item in iter_jsonl("fuzz.jsonl", lines):
        if isinstance(item, Problem):
            assert item.reason
        else:
            assert item.id and item.text.strip()


# HTML goes through trafilatura (milliseconds an example): fewer examples.
html_text = st.lists(
    st.sampled_from(
        ["<p>", "</p>", "<html>", "<body>", "<title>T</title>", "<script>x</script>", "<", ">", "&amp;"]
    )
    | st.text(max_size=20),
    max_size=30,
).map("".join)


@fuzz_settings(200)
@given(html=html_text)
def test_fuzz_parse_html_upload(html: str, count: list[int]) -> None:
    count[0] += 1
    check_upload("page.html", html.encode("utf-8", "surrogatepass"))
