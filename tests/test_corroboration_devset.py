"""The corroboration / time-aware dev set (evals/news_corroboration.jsonl, issue 13) is valid against the corpus.

Runs the checker's ``validate`` (evals/check_corroboration.py): doc ids exist, quotes are exact substrings,
dates match, supporting lists name two or more articles, timelines run oldest first, and each kind meets
its minimum. The corpus is read from ``../shared``; without it the test is skipped.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "evals" / "check_corroboration.py"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_corroboration", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


check = _checker()
needs_corpus = pytest.mark.skipif(
    not check.CORPUS.exists(), reason=f"news corpus not found at {check.CORPUS} (read from ../shared)"
)


@needs_corpus
def test_devset_is_valid() -> None:
    corpus = check.load_corpus(check.CORPUS)
    records = check.load_records(check.DEVSET)
    report = check.validate(records, corpus)
    assert report.ok, "\n".join(report.problems)
    assert report.counts["corroboration"] >= 45
    assert report.counts["update"] + report.counts["differ"] >= 18
    assert report.counts["timeline"] >= 12


@needs_corpus
def test_duplicate_pairs_are_valid() -> None:
    corpus = check.load_corpus(check.CORPUS)
    data = json.loads(check.DUPLICATES.read_text("utf-8"))
    assert check.validate_duplicates(data, corpus) == []


def test_validate_reports_bad_records() -> None:
    corpus = {
        "a": {"id": "a", "published_at": "2022-01-01", "text": "The sky is blue. It rained."},
        "b": {"id": "b", "published_at": "2022-01-02", "text": "Sky blue today. Rain stopped."},
    }
    records = [
        {
            "id": "c1",
            "kind": "corroboration",
            "question": "q",
            "answers": ["blue"],
            "supporting": [
                {"doc_id": "a", "quote": "The sky is blue."},
                {"doc_id": "a", "quote": "It rained."},
            ],
        },
        {
            "id": "c2",
            "kind": "corroboration",
            "question": "q",
            "answers": ["blue"],
            "supporting": [{"doc_id": "a", "quote": "The sky is green."}, {"doc_id": "zz", "quote": "x"}],
        },
        {
            "id": "t1",
            "kind": "timeline",
            "question": "q",
            "events": [
                {"doc_id": "b", "published_at": "2022-01-02", "quote": "Rain stopped."},
                {"doc_id": "a", "published_at": "2022-01-01", "quote": "It rained."},
                {"doc_id": "a", "published_at": "2022-01-01", "quote": "The sky is blue."},
            ],
        },
        {
            "id": "u1",
            "kind": "update",
            "question": "q",
            "newest": "stopped",
            "values": [
                {"doc_id": "a", "published_at": "2022-01-01", "value": "raining", "quote": "It rained."},
                {"doc_id": "b", "published_at": "2022-01-03", "value": "stopped", "quote": "Rain stopped."},
            ],
        },
    ]
    problems = "\n".join(check.validate(records, corpus, check_minimums=False).problems)
    assert "c1: supporting lists 1 distinct article" in problems
    assert "c2 supporting[0]: quote is not an exact substring" in problems
    assert "c2 supporting[1]: unknown doc_id 'zz'" in problems
    assert "t1: events are not oldest first" in problems
    assert "u1 values[1]: published_at '2022-01-03' is not b's '2022-01-02'" in problems
