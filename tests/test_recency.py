"""Relative time in a question ("this week") bounds the articles read, counted from its as_of date."""

from __future__ import annotations

from qa.answer.recency import window_days, within_window
from qa.store import Filters


def test_relative_words_open_a_window_counted_back_from_as_of() -> None:
    assert window_days("Which country declared victory this week?") == 7
    assert window_days("Who won yesterday, and what happened this month?") == 31  # the widest
    assert window_days("Which country declared victory in 2022?") is None
    assert window_days("Who founded Thisweek Media?") is None  # words, not parts of words
    bounded = within_window(None, "Who resigned this week?", "2022-07-08")
    assert bounded is not None and bounded.published_after == "2022-07-01"
    # Other filters are kept; a later published_after of the request's own wins.
    kept = within_window(
        Filters(sources=("CNN",), published_after="2022-07-05"), "Who won this week?", "2022-07-08"
    )
    assert kept is not None and kept.sources == ("CNN",) and kept.published_after == "2022-07-05"


def test_without_a_date_to_count_from_nothing_is_bounded() -> None:
    filters = Filters(sources=("CNN",))
    assert within_window(filters, "Who resigned this week?", None) is filters
    assert within_window(None, "Who resigned this week?", "not a date") is None
    assert within_window(filters, "Who resigned in July?", "2022-07-08") is filters


def test_recently_reaches_back_a_month_and_recent_days_weeks_months_as_far_as_they_say() -> None:
    assert window_days("Which show was recently renewed for a new season?") == 31
    assert window_days("In a recent drug bust, what was seized?") == 31
    assert window_days("Which nation plunged into chaos in recent days?") == 7
    assert window_days("How much have prices risen in recent weeks?") == 31
    assert window_days("What has the company cut in recent months?") == 183
    # "recent years" is no window; "the most recent" is the newest, however old.
    assert window_days("How often have floods hit the city in recent years?") is None
    assert window_days("What are the most recent figures on inflation?") is None
    assert window_days("Which report did the agency publish most recently?") is None
