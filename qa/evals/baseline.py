"""Compare an eval run with a baseline: per-metric deltas and the regressions beyond a tolerance.

Third stage of the harness (``dataset -> run -> baseline -> report``).  A baseline is a
``results.json`` written by :func:`qa.evals.report.write_results`, or just its ``summary``
(``evals/baseline_seed.json``).  Latency is shown with its delta but never regresses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.evals.dataset import EvalFileError
from qa.evals.metrics import EPS, HIGHER_IS_BETTER, LATENCY_METRICS, RATE_METRICS
from qa.evals.run import EvalResult


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


def as_number(value: object) -> float | None:
    """``value`` as a float when it is an int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metric_deltas(summary: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, float]:
    """``current - baseline`` for every metric that both sides have as a number."""
    deltas: dict[str, float] = {}
    for key in (*RATE_METRICS, *LATENCY_METRICS):
        current, base = as_number(summary.get(key)), as_number(baseline.get(key))
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
        baseline_json_path: a results JSON written by :func:`qa.evals.report.write_results` (or its dict).
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
        current, base = as_number(summary.get(key)), as_number(baseline.get(key))
        if current is None or base is None:
            continue
        delta = current - base
        worse = -delta if key in HIGHER_IS_BETTER else delta
        if worse > tolerance + EPS:
            regressions.append(Regression(key, base, current, delta, tolerance))
    return regressions
