"""Small text helpers shared by answer selection, citation checks and evals."""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"[A-Za-z0-9À-ÿ]+(?:['’][A-Za-z]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
MARKER = re.compile(r"\s?\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can could did didn't do does doesn't doing don't down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is isn't it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own same
    she should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was wasn't we were weren't what when where which while who whom why
    will with would you your yours yourself yourselves also said says say according recently new one
    """.split()
)


@lru_cache(maxsize=1)
def _stemmer():  # -> Stemmer.Stemmer
    import Stemmer

    return Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (apostrophes kept inside words)."""
    return [t.lower().replace("’", "'") for t in _TOKEN.findall(text)]


# Texts up to this long are cached by the per-text readers (a sentence is compared many times over
# while answering); a longer one is read afresh, so a cache never holds large texts.
CACHED_CHARS = 2000


def content_stems(text: str) -> list[str]:
    """Stemmed tokens without stopwords: what two texts must share to be about the same thing."""
    return list(_cached_stems(text) if len(text) <= CACHED_CHARS else _stems(text))


def _stems(text: str) -> tuple[str, ...]:
    words = [t for t in tokens(text) if t not in STOPWORDS]
    return tuple(_stemmer().stemWords([w.removesuffix("'s") for w in words]))


_cached_stems = lru_cache(maxsize=32768)(_stems)


def strip_markers(text: str) -> str:
    """The text without ``[n]`` citation markers."""
    return MARKER.sub("", text).strip()


def overlap(wanted: set[str], text: str) -> float:
    """Share of ``wanted`` content stems found in ``text``: the lexical score retrieval-side and verify-side."""
    if not wanted:
        return 0.0
    return len(wanted & set(content_stems(text))) / len(wanted)


def has_lone_surrogate(text: str) -> bool:
    """True if ``text`` holds a lone surrogate, which no UTF-8 encoder or tokenizer accepts."""
    return bool(_SURROGATE.search(text))


# A dateline or credit ("BOGOTA, Colombia (CNN) —", "WASHINGTON –") names a place and an outlet, not
# the fact; nor does a kicker ("VISUAL EXPLAINER:", "GAME 4:").
_DATELINE = re.compile(
    r"^\s*(?:(?:[A-Z][\w.,' ]{0,60}?\s*)?\((?:CNN|AP|Reuters)[\w ]*\)|[A-Z][A-Z.' ]+,[\w.' ]{0,40}?\s[—–-]{1,2}"
    r"|[A-Z][A-Z.' ]{2,40}\s[—–-]{1,2}\s|[A-Z][A-Z0-9' ]{2,40}:)"
    r"\s*(?:[—–-]\s*)?"
)


def undated(text: str) -> str:
    """``text`` without a leading dateline or outlet credit."""
    match = _DATELINE.match(text)
    rest = text[match.end() :] if match else text
    return rest if len(rest) >= len(text) // 3 else text
