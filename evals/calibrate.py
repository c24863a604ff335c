"""Fit the answer-confidence model and choose QA_MIN_CONFIDENCE on eval results.

Usage::

    QA_MIN_CONFIDENCE=0 qa eval evals/seed_qa.jsonl --out evals/out/c0-seed
    QA_MIN_CONFIDENCE=0 qa eval ../shared/datasets/realtimeqa_news/qa.jsonl evals/news_nearmiss.jsonl \\
        --out evals/out/c0-news
    python evals/calibrate.py evals/out/c0-seed/results.json evals/out/c0-news/results.json \\
        [--precision 0.85] [--write]

Every answered question of the results (run with no confidence threshold, so
nothing is declined for low confidence) is an example: its features
(``qa.answer.assess.FEATURES``) and whether it was right (an answerable question
whose answer passed; an answered unanswerable question is always wrong).  A
logistic regression is fitted by gradient descent with L2 regularization.
Calibration is reported by 5-fold cross-validation (each fold scored by a model
that never saw it), so the figures are honest for questions like these but
unseen.  The threshold is the lowest confidence at which both the cross-validated
precision of answered questions and the precision per citation (the share of
citations whose own sentence holds an accepted answer or the evidence, as
``citation_precision_strict``; an unanswerable question's citations count as
wrong) reach ``--precision``.  ``--write`` stores the
weights in ``qa/answer/data/confidence.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from qa.answer.assess import FEATURES, MODEL_PATH


def examples(paths: list[str]) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Feature matrix, labels, the number of questions (answered or not), and per answered question
    ``(citations, citations whose own sentence holds an accepted answer or the evidence)``."""
    xs, ys, total, cites = [], [], 0, []
    for path in paths:
        for row in json.loads(Path(path).read_text("utf-8"))["rows"]:
            total += 1
            if not row["answered"] or not row.get("features"):
                continue
            xs.append([float(row["features"].get(name, 0.0)) for name in FEATURES])
            ys.append(1.0 if row["answerable"] and row["passed"] else 0.0)
            strict = sum(bool(c.get("strict")) for c in row["citations"]) if row["answerable"] else 0
            cites.append((len(row["citations"]), strict))
    return np.array(xs), np.array(ys), total, np.array(cites, dtype=float).reshape(-1, 2)


def fit(
    x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 4000, lr: float = 0.5
) -> tuple[np.ndarray, float]:
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad = p - y
        w -= lr * (x.T @ grad / len(y) + l2 * w)
        b -= lr * grad.mean()
    return w, b


def predict(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ w + b)))


def cross_validated(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(len(y))
    out = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        w, b = fit(x[train], y[train])
        out[test] = predict(x[test], w, b)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.json files of runs with QA_MIN_CONFIDENCE=0")
    parser.add_argument(
        "--precision", type=float, default=0.85, help="wanted precision of answered questions"
    )
    parser.add_argument("--write", action="store_true", help=f"write the weights to {MODEL_PATH}")
    args = parser.parse_args(argv)
    x, y, total, cites = examples(args.results)
    if len(y) < 20 or y.min() == y.max():
        print("calibrate: need at least 20 answered questions, right and wrong ones", file=sys.stderr)
        return 2
    cv = cross_validated(x, y)
    print(f"{len(y)} answered of {total} questions; {int(y.sum())} right ({y.mean():.3f})")
    print("\ncalibration (5-fold cross-validated): confidence bin -> share right")
    for lo in np.arange(0.0, 1.0, 0.2):
        mask = (cv >= lo) & (cv < lo + 0.2 + (1e-9 if lo >= 0.8 else 0))
        if mask.any():
            print(
                f"  {lo:.1f}-{lo + 0.2:.1f}: {y[mask].mean():.3f} of {int(mask.sum())} (mean confidence {cv[mask].mean():.3f})"
            )
    print(
        "\nthreshold  coverage  precision  citation precision"
        "  (cross-validated; coverage = answered / all questions; citation precision per citation)"
    )
    chosen = None
    for t in np.arange(0.0, 0.96, 0.025):
        mask = cv >= t
        if not mask.any():
            break
        precision = y[mask].mean()
        cited = cites[mask].sum(axis=0)
        per_citation = cited[1] / cited[0] if cited[0] else 0.0
        print(f"{t:9.3f}  {mask.sum() / total:8.3f}  {precision:9.3f}  {per_citation:18.3f}")
        if chosen is None and min(precision, per_citation) >= args.precision:
            chosen = round(float(t), 3)
    w, b = fit(x, y)
    print(
        "\nweights: "
        + ", ".join(f"{n}={v:+.3f}" for n, v in zip(FEATURES, w, strict=True))
        + f", bias={b:+.3f}"
    )
    print(f"QA_MIN_CONFIDENCE for precision >= {args.precision}: {chosen}")
    if args.write:
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_text(
            json.dumps(
                {
                    "weights": {n: round(float(v), 4) for n, v in zip(FEATURES, w, strict=True)},
                    "bias": round(float(b), 4),
                    "fitted_on": [str(p) for p in args.results],
                    "examples": len(y),
                    "threshold_for_precision": {str(args.precision): chosen},
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
