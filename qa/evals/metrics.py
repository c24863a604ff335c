"""Metric names and per-item scoring functions of the eval harness: answer text, citations, ranks.

Pure functions over strings, passages and :class:`~qa.evals.dataset.EvalItem`; :mod:`qa.evals.run`
applies them to each answer and aggregates the summary.  :func:`percentile` is also the one
latency percentile of the tools (``qa bench``, ``qa.tools.load``, ``scripts/bench_*``).

Metric keys in ``EvalResult.summary`` (rates are in ``[0, 1]``; ``None`` means
"no item to measure"):

* retrieval: ``hit@1``, ``hit@5``, ``hit@10``, ``mrr``, ``evidence_hit@5``
* answers: ``contains_answer``, ``f1``
* citations: ``citation_precision``, ``citation_recall``
* abstention: ``unanswerable_declined``, ``answerable_declined``
* overall: ``pass_rate``
* latency (ms): ``ask_p50_ms``, ``ask_p95_ms``, ``search_p50_ms``, ``search_p95_ms``
* counts: ``n_items``, ``n_answerable``, ``n_unanswerable``, ``n_retrieval``,
  ``n_evidence``, ``n_citations``, ``errors``
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from qa.evals.dataset import EvalItem
from qa.types import Citation, Passage

HIGHER_IS_BETTER: tuple[str, ...] = (
    "hit@1",
    "hit@5",
    "hit@10",
    "mrr",
    "evidence_hit@5",
    "contains_answer",
    "f1",
    "citation_precision",
    "citation_precision_strict",
    "citation_recall",
    "short_answer_em",
    "unanswerable_declined",
    "pass_rate",
)
LOWER_IS_BETTER: tuple[str, ...] = ("answerable_declined",)
# Latency is shown with its delta but never fails a run: baselines come from other machines.
LATENCY_METRICS: tuple[str, ...] = ("ask_p50_ms", "ask_p95_ms", "search_p50_ms", "search_p95_ms")
COUNT_METRICS: tuple[str, ...] = (
    "n_items",
    "n_answerable",
    "n_unanswerable",
    "n_retrieval",
    "n_evidence",
    "n_citations",
    "errors",
)
RATE_METRICS: tuple[str, ...] = HIGHER_IS_BETTER + LOWER_IS_BETTER

# Float noise (0.5 - 0.48 = 0.02000000000000002) must not turn "exactly at tolerance" into a failure.
EPS = 1e-9

_CITATION_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)
_POSSESSIVE = re.compile(r"['’]s\b")
# A count spelled out is its digits: "six months" holds the key "6" (and "6" holds "six").
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
        " fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {word: str(10 * k) for k, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)}


def strip_citation_markers(text: str) -> str:
    """Remove ``[1]`` / ``[1, 2]`` markers so they don't count as answer tokens."""
    return _CITATION_MARKER.sub(" ", text)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization: drop citation markers, lowercase, punctuation, articles, extra spaces."""
    text = strip_citation_markers(text).lower()
    # A possessive is its noun ("Australia’s" holds "Australia"); a hyphen or dash separates words
    # ("17-year-old" holds "17"); a number word is its digits ("nine-year" holds "9"). Both sides of
    # a comparison are normalized alike.
    text = _POSSESSIVE.sub("", text)
    # Unicode punctuation too: news text is full of curly quotes and dashes.
    text = "".join(_unpunctuated(ch) for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(_NUMBER_WORDS.get(word, word) for word in text.split())


def _unpunctuated(ch: str) -> str:
    """A dash or hyphen becomes a space, other punctuation (ASCII or Unicode) nothing."""
    category = unicodedata.category(ch)
    if ch == "-" or category == "Pd":
        return " "
    return "" if ch in _ASCII_PUNCT or category.startswith("P") else ch


def _contains_normalized(haystack: str, needle: str) -> bool:
    """Token-boundary containment of normalized ``needle`` in normalized ``haystack``."""
    norm_needle = normalize_answer(needle)
    if not norm_needle:
        return False
    # Padding keeps "35" from matching inside "135".
    return f" {norm_needle} " in f" {normalize_answer(haystack)} "


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when ``text`` contains any accepted answer after :func:`normalize_answer`."""
    return any(_contains_normalized(text, answer) for answer in answers)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between one prediction and one reference."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred)
    recall = overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def max_f1(prediction: str, answers: Iterable[str]) -> float:
    """Best :func:`token_f1` over the accepted answers (0.0 when there are none)."""
    return max((token_f1(prediction, answer) for answer in answers), default=0.0)


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def evidence_in_text(evidence: str, text: str) -> bool:
    """Whitespace/case-insensitive: ``text`` contains ``evidence`` or ``evidence`` contains ``text``."""
    ev, tx = _squash(evidence), _squash(text)
    if not ev or not tx:
        return False
    return ev in tx or tx in ev


def document_rank(passages: Sequence[Passage], doc_ids: Iterable[str]) -> int | None:
    """1-based rank of the first relevant document among the distinct documents, or None."""
    wanted = set(doc_ids)
    for rank, doc_id in enumerate(distinct_doc_ids(passages), 1):
        if doc_id in wanted:
            return rank
    return None


def distinct_doc_ids(passages: Sequence[Passage]) -> list[str]:
    return list(dict.fromkeys(p.doc_id for p in passages))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100), as numpy's default; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rounded_percentile(values: Sequence[float], q: float, ndigits: int) -> float:
    """:func:`percentile` rounded to ``ndigits`` for a report; NaN (not None) when ``values`` is empty."""
    value = percentile(values, q)
    return float("nan") if value is None else round(value, ndigits)


def _citation_passage(citation: Citation, passages: Sequence[Passage]) -> Passage | None:
    for passage in passages:
        if (
            passage.doc_id == citation.doc_id
            and passage.start <= citation.start
            and citation.end <= passage.end
        ):
            return passage
    return None


def citation_supports(citation: Citation, item: EvalItem, passages: Sequence[Passage] = ()) -> bool:
    """Whether a citation backs the item: its text (or its passage) holds the evidence or an answer.

    The news set's evidence lists are not exhaustive, so a citation from any document
    that contains an accepted answer counts.
    """
    texts = [citation.text]
    passage = _citation_passage(citation, passages)
    if passage is not None:
        texts.append(passage.text)
    for text in texts:
        if item.evidence and _squash(item.evidence) in _squash(text):
            return True
        if contains_answer(text, item.answers):
            return True
    # A citation that quotes part of the evidence sentence is still the right support;
    # the length floor stops a two-word fragment from passing.
    cited = _squash(citation.text)
    return bool(item.evidence and len(cited) >= 20 and cited in _squash(item.evidence))


def exact_match(prediction: str, answers: Iterable[str]) -> bool:
    """SQuAD-style exact match after normalization (case, punctuation, articles)."""
    wanted = normalize_answer(prediction)
    return bool(wanted) and any(wanted == normalize_answer(a) for a in answers)


def citation_states_answer(citation: Citation, item: EvalItem) -> bool:
    """Per-citation precision: the cited *sentence itself* holds an accepted answer or the evidence.

    Stricter than :func:`citation_supports`, which also accepts a sentence whose passage
    holds the answer: padding sentences quoted beside the answer fail here.
    """
    text = citation.text
    if item.answers and contains_answer(text, item.answers):
        return True
    if item.evidence:
        cited, evidence = _squash(text), _squash(item.evidence)
        return evidence in cited or (len(cited) >= 20 and cited in evidence)
    return False
