"""Time relative to the question: "this week" asks about the week before the question's date.

News questions say when they were asked only through relative words ("Which country declared
victory this week?"). Given the date the question is asked as of (the request's ``as_of``, or an
"as of <date>" the question states, :func:`stated_as_of`), such a word bounds which articles may
answer it: :func:`within_window` adds ``published_after`` to the filters. In the news dev set the
evidence of 90 of 93 "this week" questions was published 0-6 days before the question's date.
Without a date to count from, nothing is bounded: an archive is not read as if it were today's.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

from qa.answer.nonanswers import stated_as_of as stated_as_of  # re-exported for the pipeline
from qa.store import Filters

# Days before the question's date that each relative word reaches back to (inclusive).
WINDOW_DAYS = {
    "today": 1,
    "yesterday": 2,
    "this week": 7,
    "last week": 14,
    "this month": 31,
    "last month": 62,
    # "Recently" / "a recent survey" reach back about a month; "recent days / weeks / months" say how far.
    "recently": 31,
    "recent": 31,
    "recent days": 7,
    "recent weeks": 31,
    "recent months": 183,
}
# Longest first, so "recent days" is read before "recent"; "recent years" opens no window, nor does
# "the most recent" (the newest, however old).
_RELATIVE = re.compile(
    r"(?<!most )\b(" + "|".join(sorted(WINDOW_DAYS, key=len, reverse=True)) + r")\b(?! years?\b| decades?\b)",
    re.IGNORECASE,
)


def window_days(question: str) -> int | None:
    """The widest window the question's relative words open, in days; None if it names none."""
    found = [WINDOW_DAYS[m.group(1).lower()] for m in _RELATIVE.finditer(question)]
    return max(found) if found else None


def within_window(filters: Filters | None, question: str, as_of: str | None) -> Filters | None:
    """``filters`` with ``published_after`` set to the start of the question's window, if both the
    question names one and ``as_of`` (an ISO date) says what it is relative to."""
    days = window_days(question)
    if days is None or not as_of:
        return filters
    try:
        start = (date.fromisoformat(as_of[:10]) - timedelta(days=days)).isoformat()
    except ValueError:
        return filters
    base = filters or Filters()
    after = max(start, base.published_after or "")
    return dataclasses.replace(base, published_after=after)


def as_read(question: str, filters: Filters | None, as_of: str | None) -> tuple[Filters | None, str | None]:
    """The filters and as-of date a question is read under: the earliest of ``as_of``, the filters'
    own and a date the question states ("as of June 5"), and the window it names ("this week")."""
    as_of = min(
        filter(None, (as_of, filters.as_of if filters else None, stated_as_of(question))), default=None
    )
    return within_window(filters, question, as_of), as_of
