"""Article -> sentence spans -> overlapping chunks, every span an offset pair into the article.

The splitter is rule-based (no model download, ~1 µs a character) and exact:
``text[start:end]`` of every span is the sentence with surrounding whitespace
removed, so citations can quote the article verbatim.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator

from qa.types import Article, Chunk

# Part of every document's content hash: bump it when chunk boundaries change, so a
# re-ingest re-chunks stored articles (vectors of unchanged chunk texts are reused).
CHUNKER_VERSION = "2"

# Words that end in a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "sen",
        "rep",
        "gov",
        "gen",
        "lt",
        "col",
        "capt",
        "cmdr",
        "sgt",
        "maj",
        "adm",
        "pres",
        "supt",
        "insp",
        "det",
        "rev",
        "hon",
        "fr",
        "messrs",
        "mme",
        "mlle",
        "inc",
        "co",
        "corp",
        "ltd",
        "llc",
        "plc",
        "bros",
        "dept",
        "univ",
        "assn",
        "est",
        "approx",
        "vs",
        "etc",
        "al",
        "no",
        "nos",
        "vol",
        "fig",
        "op",
        "ed",
        "eds",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thur",
        "thurs",
        "fri",
        "sat",
        "sun",
        "ave",
        "blvd",
        "rd",
        "mt",
        "ft",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "d.c",
        "a.m",
        "p.m",
        "i.e",
        "e.g",
    ]
)

# A sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace.
# The lookbehind lets a match start only where a run of punctuation starts: without it, a run of
# n marks not followed by whitespace was retried from each of its n positions (O(n²), seconds for
# 10k "!").  Spans are unchanged: a match from inside a run would end where one from its start does.
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]+[\"'”’)\]]*(?=\s)")
_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9À-Ý]")
_WORD = re.compile(r"\S+")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at ``dot`` closes an abbreviation or an initial, not a sentence."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "\"'“‘([":
        start -= 1
    token = text[start:dot].lower()
    if not token:
        return False
    if token in _ABBREVIATIONS:
        return True
    # Single-letter initials ("J. K. Rowling") and dotted acronyms ("U.S.", "D.C.").
    return (len(token) == 1 and token.isalpha()) or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", token))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences; returns ``(start, end)`` offsets into ``text``.

    Line breaks always end a sentence (news text puts headlines, datelines and
    paragraphs on lines of their own).  Spans never include surrounding whitespace.
    """
    if start or end is not None:
        return _spans(text, start, len(text) if end is None else end)
    # Cached by a digest of the text (not the text: an article may be megabytes): at question
    # time the same passages and articles are split for every answer.
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    with _SPANS_LOCK:
        hit = _SPANS.get(key)
        if hit is not None:
            _SPANS.move_to_end(key)
            return list(hit)
    spans = tuple(_spans(text, 0, len(text)))
    with _SPANS_LOCK:
        _SPANS[key] = spans
        while len(_SPANS) > SPANS_CACHED:
            _SPANS.popitem(last=False)
    return list(spans)


SPANS_CACHED = 4096  # texts whose sentence spans are kept (a few kilobytes each)
_SPANS: OrderedDict[bytes, tuple[tuple[int, int], ...]] = OrderedDict()
_SPANS_LOCK = threading.Lock()


def _spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        line_end = start + line.end()
        cursor = line_start
        for match in _BOUNDARY.finditer(text, line_start, line_end):
            stop = match.end()
            if not _STARTS_SENTENCE.match(text, stop, line_end):
                continue
            punct = match.group(0)
            if (
                punct.startswith(".")
                and len(punct.rstrip("\"'”’)]")) == 1
                and _is_abbreviation(text, match.start())
            ):
                continue
            _append_stripped(text, cursor, stop, spans)
            cursor = stop
        _append_stripped(text, cursor, line_end, spans)
    return spans


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _word_count(text: str, start: int, end: int) -> int:
    return len(_WORD.findall(text, start, end))


def _split_long(text: str, span: tuple[int, int], max_words: int) -> Iterator[tuple[int, int]]:
    """Cut a sentence longer than ``max_words`` at word boundaries."""
    words = list(_WORD.finditer(text, span[0], span[1]))
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        yield group[0].start(), group[-1].end()


def chunk_article(article: Article, max_words: int = 120, overlap_sentences: int = 1) -> list[Chunk]:
    """Group an article's sentences into chunks of at most ``max_words`` words.

    Neighbouring chunks share ``overlap_sentences`` sentences so an answer that
    straddles a boundary is still whole in one chunk.  ``chunk.text`` equals
    ``article.text[chunk.start:chunk.end]``.
    """
    text = article.text
    sentences: list[tuple[int, int]] = []
    for span in sentence_spans(text):
        if _word_count(text, *span) > max_words:
            sentences.extend(_split_long(text, span, max_words))
        else:
            sentences.append(span)
    counts = [_word_count(text, s, e) for s, e in sentences]

    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, words = i, 0
        while j < len(sentences) and (j == i or words + counts[j] <= max_words):
            words += counts[j]
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        chunks.append(Chunk(article.id, start, end, text[start:end], len(chunks)))
        if j >= len(sentences):
            break
        # Step back for overlap, but always advance by at least one sentence, and keep only as
        # much overlap as still leaves room for sentence j: otherwise the next chunk would be
        # nothing but a repeat of this one's tail.
        i = max(j - overlap_sentences, i + 1)
        while i < j and sum(counts[i : j + 1]) > max_words:
            i += 1
    return chunks


def embedding_text(title: str, chunk_text: str) -> str:
    """The text that is embedded for a chunk: the title gives short chunks their topic."""
    return f"{title}\n{chunk_text}" if title else chunk_text
