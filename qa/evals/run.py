"""Run eval items against a target and score them: one :class:`EvalRow` per question, then the summary.

Second stage of the harness (``dataset -> run -> baseline -> report``).  The harness only
knows the :class:`EvalTarget` protocol (``search`` and ``ask``), so it never imports the
pipeline; ``qa eval`` (:mod:`qa.evals.cli`) adapts a ``Pipeline`` to it.  The metric keys
of the summary are listed in :mod:`qa.evals.metrics`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

from qa.evals.dataset import EvalItem
from qa.evals.metrics import (
    citation_states_answer,
    citation_supports,
    contains_answer,
    distinct_doc_ids,
    document_rank,
    evidence_in_text,
    exact_match,
    max_f1,
    percentile,
)
from qa.types import Answer, Passage

RESULTS_VERSION = 1

_T = TypeVar("_T")


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
        """A JSON-ready dict (without meta; :func:`qa.evals.report.write_results` adds that)."""
        return {
            "version": RESULTS_VERSION,
            "created_at": self.created_at,
            "k": self.k,
            "summary": self.summary,
            "rows": [asdict(row) for row in self.rows],
        }


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
        retrieved_doc_ids=distinct_doc_ids(passages),
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
        items: from :func:`qa.evals.dataset.load_eval_items` (slice it for ``--limit``).
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
