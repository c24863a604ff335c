"""The eval harness: load question sets, run them against a target, score, report, compare.

Two question formats are accepted and normalized into :class:`EvalItem`:

* the seed format (``evals/seed_qa.jsonl``): ``id, question, answers, evidence,
  evidence_doc_ids, type`` where ``type`` is ``"answerable"`` or ``"unanswerable"``;
* the RealTime QA news format (``qa.jsonl``): ``id, question, answers,
  evidence_doc_ids, type ("factoid"/"negation"), question_date, evidence_text, ...``.

The flow is ``load_eval_items -> run_eval -> write_results / summary_table ->
compare_to_baseline``.  The harness only knows the :class:`EvalTarget` protocol
(``search`` and ``ask``), so it never imports the pipeline.

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

import base64
import html
import io
import json
import re
import string
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

from qa.errors import BadRequest
from qa.types import Answer, Citation, Passage

RESULTS_JSON = "results.json"
REPORT_HTML = "report.html"
RESULTS_VERSION = 1

_T = TypeVar("_T")

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
_EPS = 1e-9


class EvalFileError(BadRequest):
    """An eval question file or baseline file that can't be read; the message names file and line."""

    code = "bad_eval_file"


@dataclass(frozen=True)
class EvalItem:
    """One question, normalized from either input format."""

    id: str
    question: str
    answers: list[str]
    evidence: str | None
    evidence_doc_ids: list[str]
    answerable: bool
    as_of: str | None = None


class EvalTarget(Protocol):
    """What the harness runs against; the pipeline satisfies it."""

    def search(self, question: str, k: int, as_of: str | None = None) -> list[Passage]:
        """Return up to ``k`` passages, best first."""
        ...

    def ask(self, question: str, as_of: str | None = None) -> Answer:
        """Answer ``question`` with citations, or decline (``answered=False``)."""
        ...


@dataclass
class EvalRow:
    """The scored outcome of one item; ``error`` is set when the target raised."""

    id: str
    question: str
    answerable: bool
    expected: list[str]
    answer: str
    answered: bool
    citations: list[dict[str, Any]]
    retrieved_doc_ids: list[str]
    hit_rank: int | None
    evidence_hit: bool | None
    contains_answer: bool
    f1: float
    citation_ok: bool
    n_citations_ok: int
    passed: bool
    ask_ms: float | None
    search_ms: float | None
    error: str | None = None
    as_of: str | None = None
    short_answer: str | None = None
    short_answer_em: bool = False
    confidence: float | None = None
    n_citations_strict: int = 0
    features: dict[str, float] = field(default_factory=dict)


@dataclass
class EvalResult:
    """Aggregated metrics plus one row per question."""

    summary: dict[str, float | int | None]
    rows: list[EvalRow]
    k: int = 10
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without meta; :func:`write_results` adds that)."""
        return {
            "version": RESULTS_VERSION,
            "created_at": self.created_at,
            "k": self.k,
            "summary": self.summary,
            "rows": [asdict(row) for row in self.rows],
        }


@dataclass(frozen=True)
class Regression:
    """A metric that got worse than the baseline by more than the tolerance."""

    metric: str
    baseline: float
    current: float
    delta: float
    tolerance: float

    def __str__(self) -> str:
        return (
            f"{self.metric}: {self.current:.3f} vs baseline {self.baseline:.3f} "
            f"({self.delta:+.3f}, tolerance {self.tolerance:.3f})"
        )


# --------------------------------------------------------------------------- loading


def _fail(path: Path, lineno: int, reason: str) -> EvalFileError:
    return EvalFileError(f"{path}:{lineno}: {reason}")


def _str_list(value: object, name: str, path: Path, lineno: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, lineno, f"'{name}' must be a list of strings")
    return list(value)


def _parse_item(obj: object, path: Path, lineno: int) -> EvalItem:
    if not isinstance(obj, dict):
        raise _fail(path, lineno, "expected a JSON object")
    item_id = obj.get("id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise _fail(path, lineno, "missing or empty 'id'")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _fail(path, lineno, f"item {item_id!r}: missing or empty 'question'")
    answers = _str_list(obj.get("answers"), "answers", path, lineno)
    doc_ids = _str_list(obj.get("evidence_doc_ids"), "evidence_doc_ids", path, lineno)
    evidence = obj.get("evidence")
    # The news set's evidence_text is the quiz's own paraphrase, not article text, so it is
    # deliberately not used as evidence: it would never match a passage.
    if evidence is not None and not isinstance(evidence, str):
        raise _fail(path, lineno, f"item {item_id!r}: 'evidence' must be a string or null")
    item_type = obj.get("type", "answerable")
    if not isinstance(item_type, str):
        raise _fail(path, lineno, f"item {item_id!r}: 'type' must be a string")
    answerable = item_type != "unanswerable"
    if answerable and not answers and not doc_ids:
        raise _fail(
            path, lineno, f"item {item_id!r}: answerable but has neither 'answers' nor 'evidence_doc_ids'"
        )
    as_of = obj.get("as_of", obj.get("question_date"))
    if as_of is not None:
        try:
            date.fromisoformat(str(as_of))
        except ValueError:
            raise _fail(path, lineno, f"item {item_id!r}: date {as_of!r} is not YYYY-MM-DD") from None
        as_of = str(as_of)
    return EvalItem(
        id=item_id,
        question=question.strip(),
        answers=answers,
        evidence=evidence or None,
        evidence_doc_ids=doc_ids,
        answerable=answerable,
        as_of=as_of,
    )


def load_eval_items(path: str | Path) -> list[EvalItem]:
    """Read a JSONL question file in either supported format.

    Args:
        path: the ``.jsonl`` file; blank lines are skipped.

    Returns:
        The items in file order.

    Raises:
        EvalFileError: the file is missing or empty, or a line is not valid JSON, lacks a
            required field, has a wrongly typed field, or repeats an id.  The message
            starts with ``FILE:LINE:``.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"{path}: can't read eval file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise EvalFileError(f"{path}: not UTF-8 text") from exc
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(path, lineno, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        item = _parse_item(obj, path, lineno)
        if item.id in seen:
            raise _fail(path, lineno, f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise EvalFileError(f"{path}: no questions in file")
    return items


# --------------------------------------------------------------------------- text metrics

_CITATION_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def strip_citation_markers(text: str) -> str:
    """Remove ``[1]`` / ``[1, 2]`` markers so they don't count as answer tokens."""
    return _CITATION_MARKER.sub(" ", text)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization: drop citation markers, lowercase, punctuation, articles, extra spaces."""
    text = strip_citation_markers(text).lower()
    # Unicode punctuation too: news text is full of curly quotes and dashes.
    text = "".join(
        ch for ch in text if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P")
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


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
    for rank, doc_id in enumerate(_distinct_doc_ids(passages), 1):
        if doc_id in wanted:
            return rank
    return None


def _distinct_doc_ids(passages: Sequence[Passage]) -> list[str]:
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


# --------------------------------------------------------------------------- running


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


def _timed(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> tuple[_T, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, (time.perf_counter() - start) * 1000


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def score_item(item: EvalItem, target: EvalTarget, k: int = 10) -> EvalRow:
    """Run one item against the target and score it; exceptions become an error row."""
    errors: list[str] = []
    passages: list[Passage] = []
    search_ms: float | None = None
    try:
        passages, search_ms = _timed(target.search, item.question, k, as_of=item.as_of)
        passages = list(passages)
    except Exception as exc:  # one broken question must not sink the whole run
        errors.append(f"search: {_error_text(exc)}")

    answer: Answer | None = None
    ask_ms: float | None = None
    try:
        answer, ask_ms = _timed(target.ask, item.question, as_of=item.as_of)
    except Exception as exc:
        errors.append(f"ask: {_error_text(exc)}")

    hit_rank = document_rank(passages, item.evidence_doc_ids) if item.evidence_doc_ids else None
    short = answer.short_answer if answer is not None and answer.answered else None
    evidence_hit: bool | None = None
    if item.answerable and item.evidence:
        evidence_hit = any(evidence_in_text(item.evidence, p.text) for p in passages[:5])

    answer_text = answer.answer if answer is not None else ""
    answered = bool(answer is not None and answer.answered)
    cite_pool = [*(answer.passages if answer is not None else []), *passages]
    citations: list[dict[str, Any]] = []
    n_ok = n_strict = 0
    for citation in answer.citations if answer is not None else []:
        ok = item.answerable and citation_supports(citation, item, cite_pool)
        strict = item.answerable and citation_states_answer(citation, item)
        n_ok += ok
        n_strict += strict
        citations.append(
            {
                "n": citation.n,
                "doc_id": citation.doc_id,
                "start": citation.start,
                "end": citation.end,
                "text": citation.text,
                "ok": ok,
                "strict": strict,
                "score": citation.score,
            }
        )

    has_answer = answered and item.answerable and contains_answer(answer_text, item.answers)
    f1 = max_f1(answer_text, item.answers) if answered and item.answerable else 0.0
    citation_ok = answered and n_ok > 0
    error = "; ".join(errors) or None
    if error is not None:
        passed = False
    elif item.answerable:
        passed = answered and (has_answer or citation_ok)
    else:
        passed = not answered

    return EvalRow(
        id=item.id,
        question=item.question,
        answerable=item.answerable,
        expected=list(item.answers),
        answer=answer_text,
        answered=answered,
        citations=citations,
        retrieved_doc_ids=_distinct_doc_ids(passages),
        hit_rank=hit_rank,
        evidence_hit=evidence_hit,
        contains_answer=has_answer,
        f1=f1,
        citation_ok=citation_ok,
        n_citations_ok=n_ok,
        passed=passed,
        ask_ms=ask_ms,
        search_ms=search_ms,
        error=error,
        as_of=item.as_of,
        short_answer=short.text if short else None,
        short_answer_em=bool(short and item.answerable and exact_match(short.text, item.answers)),
        confidence=answer.confidence if answer is not None else None,
        features=dict(answer.features) if answer is not None else {},
        n_citations_strict=n_strict,
    )


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


def risk_coverage(rows: Sequence[EvalRow]) -> list[tuple[float, float, float]]:
    """``(threshold, coverage, precision)`` as the confidence threshold rises.

    Coverage is the share of all questions answered; precision the share of those
    answered that are right (an answerable question whose answer passes).
    """
    scored = [(row.confidence or 0.0, row) for row in rows if row.answered and row.error is None]
    scored.sort(key=lambda pair: -pair[0])
    out: list[tuple[float, float, float]] = []
    right = 0
    for n, (conf, row) in enumerate(scored, start=1):
        right += row.answerable and row.passed
        out.append((conf, n / max(1, len(rows)), right / n))
    return out


def _rate(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def summarize(rows: Sequence[EvalRow], items: Sequence[EvalItem]) -> dict[str, float | int | None]:
    """Aggregate scored rows (paired with their items, same order) into the summary metrics."""
    answerable = [row for row in rows if row.answerable]
    unanswerable = [row for row in rows if not row.answerable]
    by_id = {item.id: item for item in items}
    retrieval = [row for row in answerable if by_id[row.id].evidence_doc_ids]
    with_evidence = [row for row in answerable if row.evidence_hit is not None]
    ranks = [row.hit_rank for row in retrieval]
    # Precision counts citations of answered answerable questions only; a declined
    # answer's citations (if a backend sends any) say nothing about answer support.
    cited = [c for row in answerable if row.answered for c in row.citations]

    summary: dict[str, float | int | None] = {
        "n_items": len(rows),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_retrieval": len(retrieval),
        "n_evidence": len(with_evidence),
        "n_citations": len(cited),
        "errors": sum(row.error is not None for row in rows),
    }
    for k in (1, 5, 10):
        summary[f"hit@{k}"] = _rate(sum(r is not None and r <= k for r in ranks), len(ranks))
    summary["mrr"] = _rate(sum(1 / r for r in ranks if r is not None), len(ranks))
    summary["evidence_hit@5"] = _rate(
        sum(bool(row.evidence_hit) for row in with_evidence), len(with_evidence)
    )
    summary["contains_answer"] = _rate(sum(row.contains_answer for row in answerable), len(answerable))
    summary["f1"] = _rate(sum(row.f1 for row in answerable), len(answerable))
    summary["citation_precision"] = _rate(sum(bool(c["ok"]) for c in cited), len(cited))
    summary["citation_precision_strict"] = _rate(sum(bool(c.get("strict")) for c in cited), len(cited))
    summary["citation_recall"] = _rate(sum(row.citation_ok for row in answerable), len(answerable))
    with_short = [row for row in answerable if row.answered and row.short_answer]
    summary["short_answer_em"] = _rate(sum(row.short_answer_em for row in with_short), len(with_short))
    summary["short_answer_rate"] = _rate(len(with_short), len(answerable))
    # An errored row never counts as "declined": a crash is not a good abstention.
    summary["unanswerable_declined"] = _rate(
        sum(not row.answered and row.error is None for row in unanswerable), len(unanswerable)
    )
    summary["answerable_declined"] = _rate(
        sum(not row.answered and row.error is None for row in answerable), len(answerable)
    )
    summary["pass_rate"] = _rate(sum(row.passed for row in rows), len(rows))
    ask = [row.ask_ms for row in rows if row.ask_ms is not None]
    search = [row.search_ms for row in rows if row.search_ms is not None]
    summary["ask_p50_ms"] = percentile(ask, 50)
    summary["ask_p95_ms"] = percentile(ask, 95)
    summary["search_p50_ms"] = percentile(search, 50)
    summary["search_p95_ms"] = percentile(search, 95)
    return summary


def run_eval(
    items: Sequence[EvalItem], target: EvalTarget, *, k: int = 10, progress: bool = True
) -> EvalResult:
    """Run every item against ``target`` and score it.

    Args:
        items: from :func:`load_eval_items` (slice it for ``--limit``).
        target: anything with the :class:`EvalTarget` methods.
        k: passages requested from ``target.search``; hit@k for k above this can't hit.
        progress: show a tqdm bar on stderr.

    Returns:
        An :class:`EvalResult` with one row per item (same order) and the summary.
        A target exception on one item yields an error row (a fail), never a raise.
    """
    rows = [
        score_item(item, target, k=k)
        for item in tqdm(items, desc="eval", unit="q", file=sys.stderr, disable=not progress)
    ]
    return EvalResult(summary=summarize(rows, items), rows=rows, k=k)


# --------------------------------------------------------------------------- baseline


def load_baseline(baseline: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The summary dict of a baseline: a results JSON path, a results dict or a summary dict."""
    if isinstance(baseline, Mapping):
        data: Any = dict(baseline)
    else:
        path = Path(baseline)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise EvalFileError(f"{path}: can't read baseline: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{exc.lineno}: baseline is not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("summary"), dict):
        return dict(data["summary"])
    if isinstance(data, dict) and any(key in data for key in RATE_METRICS):
        return data
    raise EvalFileError(f"{baseline}: baseline has no 'summary' of metrics")


def _as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metric_deltas(summary: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, float]:
    """``current - baseline`` for every metric that both sides have as a number."""
    deltas: dict[str, float] = {}
    for key in (*RATE_METRICS, *LATENCY_METRICS):
        current, base = _as_number(summary.get(key)), _as_number(baseline.get(key))
        if current is not None and base is not None:
            deltas[key] = current - base
    return deltas


def compare_to_baseline(
    result: EvalResult | Mapping[str, Any],
    baseline_json_path: str | Path | Mapping[str, Any],
    tolerance: float = 0.02,
) -> list[Regression]:
    """Metrics that got worse than the baseline by more than ``tolerance``.

    Args:
        result: this run (or its summary dict).
        baseline_json_path: a results JSON written by :func:`write_results` (or its dict).
        tolerance: the absolute change allowed before a metric counts as regressed.

    Returns:
        Regressions, in metric order; empty when nothing regressed.  A higher-is-better
        metric regresses when it drops by more than ``tolerance``; ``answerable_declined``
        when it rises by more.  Latency never regresses (machines differ), and a metric
        missing from either side is skipped.
    """
    summary = result.summary if isinstance(result, EvalResult) else result
    baseline = load_baseline(baseline_json_path)
    regressions: list[Regression] = []
    for key in RATE_METRICS:
        current, base = _as_number(summary.get(key)), _as_number(baseline.get(key))
        if current is None or base is None:
            continue
        delta = current - base
        worse = -delta if key in HIGHER_IS_BETTER else delta
        if worse > tolerance + _EPS:
            regressions.append(Regression(key, base, current, delta, tolerance))
    return regressions


# --------------------------------------------------------------------------- reporting


def _fmt(key: str, value: object) -> str:
    number = _as_number(value)
    if number is None:
        return "n/a"
    if key in COUNT_METRICS:
        return str(int(number))
    if key in LATENCY_METRICS:
        return f"{number:.1f}"
    return f"{number:.3f}"


def _fmt_delta(key: str, delta: float | None) -> str:
    if delta is None:
        return ""
    return f"{delta:+.1f}" if key in LATENCY_METRICS else f"{delta:+.3f}"


def _table_keys() -> list[str]:
    return [*RATE_METRICS, *LATENCY_METRICS, *COUNT_METRICS]


def summary_table(
    result: EvalResult,
    baseline: str | Path | Mapping[str, Any] | None = None,
    tolerance: float = 0.02,
) -> str:
    """A plain-text table of the summary for the terminal, with baseline and delta columns if given."""
    base = load_baseline(baseline) if baseline is not None else None
    deltas = metric_deltas(result.summary, base) if base is not None else {}
    regressed = (
        {r.metric for r in compare_to_baseline(result, base, tolerance)} if base is not None else set()
    )
    header = ["metric", "value"] + (["baseline", "delta", ""] if base is not None else [])
    lines = [header]
    for key in _table_keys():
        row = [key, _fmt(key, result.summary.get(key))]
        if base is not None:
            flag = "REGRESSED" if key in regressed else ""
            row += [_fmt(key, base.get(key)), _fmt_delta(key, deltas.get(key)), flag]
        lines.append(row)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(out)


def _png_data_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _metrics_chart(summary: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> str:
    # Figure() without pyplot renders through Agg and leaves the process-wide backend alone.
    from matplotlib.figure import Figure

    keys = list(RATE_METRICS)
    current = [_as_number(summary.get(k)) for k in keys]
    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot()
    xs = list(range(len(keys)))
    width = 0.4 if baseline is not None else 0.7
    nan = float("nan")
    if baseline is not None:
        base = [_as_number(baseline.get(k)) for k in keys]
        ax.bar(
            [x - width / 2 for x in xs],
            [nan if v is None else v for v in base],
            width,
            label="baseline",
            color="#b0b7c3",
        )
        ax.bar(
            [x + width / 2 for x in xs],
            [nan if v is None else v for v in current],
            width,
            label="this run",
            color="#3b6fd8",
        )
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.bar(xs, [nan if v is None else v for v in current], width, color="#3b6fd8")
    for x, v in zip(xs, current, strict=True):
        offset = width / 2 if baseline is not None else 0
        ax.text(x + offset, (v or 0) + 0.02, "n/a" if v is None else f"{v:.2f}", ha="center", fontsize=7)
    ax.set_xticks(xs)
    ax.set_xticklabels(keys, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("rate")
    ax.set_title("Summary metrics (answerable_declined: lower is better)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png_data_uri(fig)


def _latency_chart(rows: Sequence[EvalRow]) -> str | None:
    from matplotlib.figure import Figure

    ask = [row.ask_ms for row in rows if row.ask_ms is not None]
    search = [row.search_ms for row in rows if row.search_ms is not None]
    if not ask and not search:
        return None
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    # Shared bin edges so the two series line up bar for bar.
    lo, hi = min(ask + search), max(ask + search)
    n_bins = min(30, max(5, max(len(ask), len(search)) // 2))
    width = (hi - lo) / n_bins or 1.0
    bins = [lo + i * width for i in range(n_bins + 1)]
    if search:
        ax.hist(search, bins=bins, alpha=0.6, label="search", color="#8a5cd8")
    if ask:
        ax.hist(ask, bins=bins, alpha=0.6, label="ask", color="#3b6fd8")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png_data_uri(fig)


def risk_coverage_chart(curves: Mapping[str, Sequence[tuple[float, float, float]]]) -> str | None:
    """Precision of answered questions against the share answered, one line per backend."""
    from matplotlib.figure import Figure

    if not any(curves.values()):
        return None
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for name, curve in curves.items():
        if curve:
            ax.plot([c for _, c, _ in curve], [p for _, _, p in curve], label=name)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("precision of answered")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1.0)
    ax.set_title("Risk and coverage as the confidence threshold rises", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png_data_uri(fig)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #dde2ea;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f5f9}td.id{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.summary{width:auto}tr.pass td.status{background:#d9f2df;color:#14532d;font-weight:600}
tr.fail td.status{background:#fbdada;color:#7f1d1d;font-weight:600}tr.regressed td{background:#fff1d6}
.bad{color:#b42318;font-weight:600}.good{color:#146c2e}.muted{color:#6b7280}.small{font-size:12px}
img{max-width:100%;border:1px solid #e5e8ee;border-radius:4px;margin:.4rem 0}
ul.cites{margin:0;padding-left:1.1rem}code{font-size:12px}.regressions{background:#fff1d6;padding:.5rem 1rem;border-radius:4px}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _summary_html(summary: Mapping[str, Any], baseline: Mapping[str, Any] | None, regressed: set[str]) -> str:
    deltas = metric_deltas(summary, baseline) if baseline is not None else {}
    head = "<tr><th>metric</th><th>value</th>" + (
        "<th>baseline</th><th>delta</th>" if baseline is not None else ""
    )
    parts = [f'<table class="summary">{head}</tr>']
    for key in _table_keys():
        cls = ' class="regressed"' if key in regressed else ""
        cells = f"<td>{_e(key)}</td><td class='num'>{_e(_fmt(key, summary.get(key)))}</td>"
        if baseline is not None:
            delta = deltas.get(key)
            tone = ""
            if delta is not None and key in RATE_METRICS and abs(delta) > _EPS:
                better = delta > 0 if key in HIGHER_IS_BETTER else delta < 0
                tone = "good" if better else "bad"
            cells += (
                f"<td class='num'>{_e(_fmt(key, baseline.get(key)))}</td>"
                f"<td class='num {tone}'>{_e(_fmt_delta(key, delta))}</td>"
            )
        parts.append(f"<tr{cls}>{cells}</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def _rows_html(rows: Sequence[EvalRow]) -> str:
    parts = [
        "<table><tr><th>id</th><th>question</th><th>expected</th><th>answer</th>"
        "<th>citations</th><th>retrieval</th><th>scores</th><th>result</th></tr>"
    ]
    for row in rows:
        status = "pass" if row.passed else "fail"
        cites = "".join(
            f"<li class='{'good' if c['ok'] else 'muted'}'>[{_e(c['n'])}] <code>{_e(c['doc_id'])}"
            f":{_e(c['start'])}-{_e(c['end'])}</code> {_e(c['text'])}</li>"
            for c in row.citations
        )
        expected = "; ".join(row.expected) if row.answerable else "(unanswerable: should decline)"
        answer = _e(row.answer)
        if not row.answered:
            answer = f"<span class='muted'>[declined]</span> {answer}"
        if row.error:
            answer += f"<div class='bad small'>{_e(row.error)}</div>"
        rank = "n/a" if not row.answerable else ("miss" if row.hit_rank is None else f"rank {row.hit_rank}")
        retrieved = ", ".join(row.retrieved_doc_ids[:5])
        scores = (
            f"contains: {'yes' if row.contains_answer else 'no'}<br>F1: {row.f1:.2f}<br>"
            f"cite ok: {'yes' if row.citation_ok else 'no'}"
            if row.answerable
            else ""
        )
        parts.append(
            f"<tr class='{status}'><td class='id'><code>{_e(row.id)}</code></td><td>{_e(row.question)}</td>"
            f"<td>{_e(expected)}</td><td>{answer}</td><td><ul class='cites'>{cites}</ul></td>"
            f"<td class='small'>{_e(rank)}<br><span class='muted'>{_e(retrieved)}</span></td>"
            f"<td class='small'>{scores}</td><td class='status'>{status}</td></tr>"
        )
    parts.append("</table>")
    return "\n".join(parts)


def render_html(
    result: EvalResult,
    *,
    title: str,
    meta: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
    regressions: Sequence[Regression] = (),
) -> str:
    """The self-contained HTML report (inline CSS, plots as base64 PNG, no scripts)."""
    meta_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in meta.items())
    regression_html = ""
    if baseline is not None:
        if regressions:
            items = "".join(f"<li>{_e(r)}</li>" for r in regressions)
            regression_html = f"<div class='regressions'><b class='bad'>Regressions</b><ul>{items}</ul></div>"
        else:
            regression_html = "<p class='good'>No regressions against the baseline.</p>"
    latency = _latency_chart(result.rows)
    latency_html = (
        f"<img alt='latency histogram' src='{latency}'>" if latency else "<p class='muted'>No timings.</p>"
    )
    passed = sum(row.passed for row in result.rows)
    curve = risk_coverage_chart({str(meta.get("backend", "answers")): risk_coverage(result.rows)})
    curve_html = (
        f"<img alt='risk-coverage curve' src='{curve}'>"
        if curve
        else "<p class='muted'>No answered questions.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="muted">{passed} of {len(result.rows)} questions passed &middot; generated {_e(result.created_at)}</p>
<table class="summary">{meta_rows}</table>
<h2>Summary</h2>
{regression_html}
{_summary_html(result.summary, baseline, {r.metric for r in regressions})}
<img alt="summary metrics" src="{_metrics_chart(result.summary, baseline)}">
<h2>Risk and coverage</h2>
<p class="small muted">Answers sorted by confidence; each point is a threshold (QA_MIN_CONFIDENCE):
the share of all questions answered above it, and the share of those that are right.</p>
{curve_html}
<h2>Latency</h2>
{latency_html}
<h2>Questions</h2>
{_rows_html(result.rows)}
</body></html>
"""


def write_results(
    result: EvalResult,
    out_dir: str | Path,
    *,
    title: str,
    meta: Mapping[str, Any],
    baseline: str | Path | Mapping[str, Any] | None = None,
    tolerance: float = 0.02,
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``report.html`` into ``out_dir`` (created if needed).

    Args:
        result: from :func:`run_eval`.
        out_dir: the output directory.
        title: the report heading.
        meta: run facts (backend, corpus, retrieval mode, date, ...) stored in the JSON and
            shown in the report; values that aren't JSON types are written with ``str``.
        baseline: a previous results JSON (path or dict) to show deltas and regressions against.
        tolerance: as in :func:`compare_to_baseline`.

    Returns:
        ``(json_path, html_path)``.  The JSON is itself a valid baseline for later runs.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = load_baseline(baseline) if baseline is not None else None
    regressions = compare_to_baseline(result, base, tolerance) if base is not None else []
    payload = {"title": title, "meta": dict(meta), **result.to_dict()}
    if base is not None:
        payload["baseline"] = {
            "summary": base,
            "deltas": metric_deltas(result.summary, base),
            "regressions": [asdict(r) for r in regressions],
            "tolerance": tolerance,
        }
    json_path = out / RESULTS_JSON
    html_path = out / REPORT_HTML
    json_path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    html_path.write_text(
        render_html(result, title=title, meta=meta, baseline=base, regressions=regressions), encoding="utf-8"
    )
    return json_path, html_path
