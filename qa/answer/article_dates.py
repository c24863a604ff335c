"""Dates read against the article's own date: news says "Thursday" for a day of its week.

:func:`dated` gives a sentence's date atoms with a lone weekday read as the date it names (for
the entailment checks across articles); :func:`calendar_dates` gives its calendar dates as
values to compare (an asked date across articles, :mod:`qa.answer.values`).
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta

from qa.answer.facts import MONTHS, WEEKDAYS, Quantity, dates, entity_dates
from qa.models.nlp import Sent

_MONTH_DAY = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2})\b")


def dated(sent: Sent, published: str | None) -> tuple[set[str], set[str]]:
    """The sentence's date atoms with a lone weekday read against its article's date, and those read.

    News says "Thursday" for a day of the week it was published in: an article of Friday
    5 August says "Thursday" for 4 August ("month:8", "day:4"), and "will launch on
    Saturday" for 6 August, so two articles published days apart can be compared.
    Without ``published`` (an ISO date), or when the sentence gives a month or day itself,
    the atoms are :func:`dates`'s.
    """
    atoms = dates(sent)
    weekdays = [a for a in atoms if a.startswith("weekday:")]
    if not published or len(weekdays) != 1 or any(a.startswith(("month:", "day:")) for a in atoms):
        return atoms, set()
    try:
        day = date.fromisoformat(published[:10])
    except ValueError:
        return atoms, set()
    at = next((e.first for e in sent.ents if weekdays[0] in entity_dates(e)), 0)
    day = weekday_date(day, weekdays[0].split(":")[1], ahead(sent, at))
    read = {f"month:{day.month}", f"day:{day.day}"}
    return (atoms - set(weekdays)) | read, read


def calendar_dates(sent: Sent, published: str | None) -> list[Quantity]:
    """The sentence's calendar dates as values (unit "date", value the day's ordinal), for comparing
    an asked date across articles: a month and day ("September 23"), the year its own or else the
    article's; a lone weekday read against the article's date (:func:`dated`)."""
    try:
        base = date.fromisoformat((published or "")[:10])
    except ValueError:
        return []
    out: list[Quantity] = []
    for e in sent.ents:
        atoms = entity_dates(e)
        if e.label != "DATE" or not atoms:
            continue
        yrs = [int(a[5:]) for a in atoms if a.startswith("year:")]
        year = yrs[0] if len(yrs) == 1 else base.year
        # Every "<month> <day>" of the entity ("September 23 or September 27": two dates).
        days = [
            (MONTHS[m.group(1).lower()], int(m.group(2)))
            for m in _MONTH_DAY.finditer(e.text)
            if m.group(1).lower() in MONTHS
        ]
        weekdays = [a[8:] for a in atoms if a.startswith("weekday:")]
        whens: list[date] = []
        for month, day in days:
            with contextlib.suppress(ValueError):
                whens.append(date(year, month, day))
        if not days and len(weekdays) == 1 and not any(a.startswith(("month:", "day:")) for a in atoms):
            whens.append(weekday_date(base, weekdays[0], ahead(sent, e.first)))
        out += [Quantity(float(when.toordinal()), "date", "", e.text, False, e.first) for when in whens]
    return out


def weekday_date(base: date, weekday: str, forward: bool) -> date:
    """The date a weekday ("thu") names in an article of ``base``: the last such day on or before
    it, or, said of what is to come, the next one on or after it."""
    wanted = list(WEEKDAYS).index(weekday)
    if forward:
        return base + timedelta(days=(wanted - base.weekday()) % 7)
    return base - timedelta(days=(base.weekday() - wanted) % 7)


def ahead(sent: Sent, i: int) -> bool:
    """Whether token ``i``'s date is of what is to come: "next Saturday", or a clause with "will"."""
    toks = sent.toks
    if i > 0 and toks[i - 1].lemma in {"next", "coming", "upcoming"}:
        return True
    return any(t.pos == "AUX" and t.lemma in {"will", "shall"} for t in toks)
