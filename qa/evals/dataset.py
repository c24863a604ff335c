"""The eval question sets: read a JSONL file in either supported format into :class:`EvalItem`.

First stage of the eval harness (``dataset -> run -> baseline -> report``); nothing here
touches a target.  Two formats are accepted:

* the seed format (``evals/seed_qa.jsonl``): ``id, question, answers, evidence,
  evidence_doc_ids, type`` where ``type`` is ``"answerable"`` or ``"unanswerable"``;
* the RealTime QA news format (``qa.jsonl``): ``id, question, answers,
  evidence_doc_ids, type ("factoid"/"negation"), question_date, evidence_text, ...``.

:class:`EvalFileError` (in :mod:`qa.errors`) is what a bad question or baseline file raises, for the
whole harness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from qa.errors import EvalFileError


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
