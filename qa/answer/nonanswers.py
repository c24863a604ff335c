"""Entities and sentences that never answer a question, whatever their type.

Read from the parse (spaCy, :mod:`qa.models.nlp`), three cases the extractive
answerer used to quote on news:

* **the question's own words**: an entity most of whose words the question already
  has outside its wh-phrase ("Sydney's Taronga Zoo" asked "Which Taronga Zoo
  keeper...?") names what is asked about, not the answer (a name sharing one word,
  "Nancy Pelosi" asked about Paul Pelosi, is another entity and stays; "Yosemite
  National Park" asked "near which national park" is the answer);
* **bylines, credits and attribution**: a photo credit ("Chris Jackson/Getty Images")
  and the outlet or person a statement was made *to* or comes from ("told CNN",
  "shared with CNN", "according to Reuters", "per the lottery association") report the
  news, they are not in it; unless the question itself asks about telling or saying;
* **another year of the same thing**: asked about "the 2022 Tour de France", a
  sentence about "the 2014 Tour de France" (a year modifying the same noun) and no
  2022 is about another edition, so nothing in it answers;
* **another time's news**: asked about a year ("Who won Brazil's runoff in 2018?") or a day
  ("the national average on March 10, 2022"), a sentence that names neither (nor does the
  one before it), in an article published neither that year nor early the next (or more than a
  week after the day, or before it), tells that article's own news, not the asked time's;
* **what may happen**: asked what happened or is (no modal or future auxiliary in the
  question), a date or name in a sentence that only says it may happen ("could take
  place as early as Friday, November 4"; "should be on track to overtake") is a plan or
  a forecast, not the answer.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from qa.answer.aliases import another_name
from qa.answer.facts import MONTHS, YEAR, entity_dates, norm_words, unit_of
from qa.answer.question import WHEN, QuestionInfo, _noun_kind, years
from qa.answer.syntax import clause_verb, head_word, hedged, hyphened
from qa.models.nlp import Ent, Sent
from qa.text import undated

# Verbs whose recipient ("told CNN") or source ("according to") is attribution, not news.
# A closed class of English reporting verbs; a question asking about one of them is exempt.
REPORTING_VERBS = frozenset({"tell", "say", "share", "speak", "confirm", "explain", "report", "accord"})


def in_question(ent: Ent, info: QuestionInfo) -> bool:
    """True when more than half of the entity's words are words of the question, or it is another
    name of one the question holds (:func:`qa.answer.aliases.another_name`: "American" for "US")."""
    words = norm_words(ent.text)
    if not words:
        return False
    # The wh-phrase's words are the answer's kind, not what is asked about: asked "near which
    # national park", "Yosemite National Park" is the answer.
    asked = set(norm_words(info.text)) - set(info.wh_words)
    return sum(w in asked for w in words) * 2 > len(words) or another_name(ent.text, info.names)


def attribution(sent: Sent, ent: Ent, info: QuestionInfo) -> bool:
    """True for a credit ("Name/Agency"), a section label ("OBITUARY: ..."), or the recipient or
    source of a reported statement."""
    if "/" in ent.text:
        return True
    after = ent.last + 1
    if ent.first == 0 and ent.text.isupper() and after < len(sent.toks) and sent.toks[after].text == ":":
        return True
    if info.predicate in REPORTING_VERBS:
        return False
    toks = sent.toks
    last = toks[ent.last]
    head = toks[last.head]
    if last.dep in {"dobj", "dative"} and head.lemma == "tell":
        return True  # "sources told CNN"
    if last.dep == "pobj" and head.lemma == "per":
        return True  # "Per the Multi-State Lottery Association, ..."
    if last.dep == "pobj" and head.lemma in {"to", "with"}:
        up = toks[head.head]  # "according to", "shared with CNN"; "said in a statement to CNN"
        via = toks[toks[up.head].head] if up.pos == "NOUN" and toks[up.head].dep == "prep" else up
        return up.lemma in REPORTING_VERBS or via.lemma in REPORTING_VERBS
    return False


def other_edition(question_years: Sequence[tuple[str, str]], sent: Sent) -> bool:
    """True when the sentence dates the question's dated noun to another year and never names its year."""
    if not question_years:
        return False
    named = {t.text for t in sent.toks if YEAR.match(t.text)}
    theirs = years(sent) + _clause_years(sent)
    return any(
        year not in named and any(noun == n and y != year for y, n in theirs) for year, noun in question_years
    )


def _clause_years(sent: Sent) -> tuple[tuple[str, str], ...]:
    """``(year, subject noun)`` for a year its clause gives its subject ("the last outbreak ... was in 2003")."""
    toks, out = sent.toks, []
    for i, t in enumerate(toks):
        prep = toks[t.head]
        if not YEAR.match(t.text) or t.dep != "pobj" or prep.lemma != "in" or t.head == i:
            continue
        verb = prep.head
        out += [
            (t.text, toks[k].lemma)
            for k in sent.children(verb)
            if toks[k].dep in {"nsubj", "nsubjpass"} and toks[k].pos == "NOUN"
        ]
    return tuple(out)


def counted(sent: Sent, ent: Ent) -> str:
    """The noun a number counts ("87,000 employees" -> employee), "money" or "%", or "".

    Also when the noun is inside the entity ("more than 18,000 acres" -> acre), and when
    the number is what a measure noun rose or fell to ("the number of dead climbed to
    154", "the death toll rose to 156" -> dead, death): what that measure counts.
    """
    toks = sent.toks
    if ent.last > ent.first and toks[ent.last].pos == "NOUN" and toks[ent.last - 1].text == "-":
        return toks[ent.last].lemma  # "a nine-year sentence" counts years, whatever it modifies
    unit = unit_of(sent, ent.first, ent.last)
    if unit:
        return unit
    for k in range(ent.first, ent.last + 1):
        head = toks[k].head
        if toks[k].dep == "nummod" and ent.first <= head <= ent.last and toks[head].pos == "NOUN":
            return toks[head].lemma
    verb = toks[ent.last].head
    if toks[verb].pos == "ADP":  # "climbed *to* 154"
        verb = toks[verb].head
    if toks[verb].pos not in {"VERB", "AUX"}:
        return ""
    for subj in sent.children(verb):
        if toks[subj].dep not in {"nsubj", "nsubjpass"} or _noun_kind(toks[subj].lemma)[0] != "quantity":
            continue
        for kid in sent.children(subj):
            if toks[kid].dep == "compound" and toks[kid].pos == "NOUN":
                return toks[kid].lemma  # "the death toll"
            if toks[kid].dep == "prep" and toks[kid].lemma == "of":
                for obj in sent.children(kid):
                    if toks[obj].dep == "pobj":
                        return toks[obj].lemma  # "the number of dead"
    return ""


def only_may_happen(
    sent: Sent, ent: Ent, asked: Sequence[str], similar: Callable[[str, str], float], min_predicate: float
) -> bool:
    """The sentence says the answer's event may happen, not that it did: the verb the answer hangs on is
    under a modal ("could begin as early as Friday"), or every verb stating the asked predicate is
    ("should be on track to overtake")."""
    toks = sent.toks
    k = head_word(sent, ent)
    for _ in range(4):
        if toks[k].head == k:
            break
        k = toks[k].head
        if toks[k].pos in {"VERB", "AUX"}:
            if hedged(sent, k):
                return True
            break
    stating = [
        i
        for i, t in enumerate(toks)
        if t.pos == "VERB" and any(similar(w, t.lemma) >= min_predicate for w in asked)
    ]
    return bool(stating) and all(hedged(sent, i) for i in stating)


@dataclass(frozen=True)
class AskedTime:
    """The years and calendar days a question names ("in 2018"; "on March 10, 2022")."""

    years: frozenset[int] = frozenset()
    days: tuple[date, ...] = ()  # a month and day; year 1 where the question gives none


# Days after an asked day that an article may still report it as news ("Thursday" of a weekly).
NEWS_DAYS = 7
_MONTH_DAY = re.compile(r"\b([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+((?:1[89]|20)\d\d))?")


@lru_cache(maxsize=1024)
def asked_time(question: str) -> AskedTime:
    """The years and the month-and-day dates a question names.

    A year that describes a thing ("the 1952 Mickey Mantle card") is read as asked too: news names
    such a thing in full where it tells of it, and a year that names an edition ("the 2021 World
    Series") is the asked time; the parse does not tell the two apart.
    """
    years = frozenset(int(w) for w in re.findall(r"\b\d{4}\b", question) if YEAR.match(w))
    # "as of September 29, 2022" asks about 2022, up to that day (``stated_as_of``): no day it happened.
    cutoff = _as_of(question)
    if cutoff is not None:
        question = question[: cutoff[1]] + question[cutoff[2] :]
    days: list[date] = []
    for m in _MONTH_DAY.finditer(question):
        month = MONTHS.get(m.group(1).lower())
        if month is None or (len(m.group(1)) <= 3 and not m.group(1)[0].isupper()):
            continue
        # The question's own year, else unknown (year 1: read as the article's year).
        year = int(m.group(3)) if m.group(3) else (next(iter(years)) if len(years) == 1 else 1)
        with contextlib.suppress(ValueError):
            days.append(date(year, month, int(m.group(2))))
    return AskedTime(years, tuple(days))


_AS_OF = re.compile(r"\bas of\s+(?:(\d{4}-\d\d-\d\d)\b|(.{1,30}))", re.IGNORECASE)


def stated_as_of(question: str) -> str | None:
    """The ISO date of an "as of <date>" the question states ("as of September 29, 2022"), if a full one.

    Asked what was true as of a day, what was published after it is not the answer: the pipeline
    reads this as the request's ``as_of`` (the earlier of the two when both are given).
    """
    found = _as_of(question)
    return found[0] if found else None


def _as_of(question: str) -> tuple[str, int, int] | None:
    """``(ISO date, start, end)`` of the question's "as of <date>" phrase, if it states a full date."""
    m = _AS_OF.search(question)
    if m is None:
        return None
    if m.group(1):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(m.group(1)).isoformat(), m.start(), m.end()
        return None
    day = _MONTH_DAY.match(m.group(2))
    month = MONTHS.get(day.group(1).lower()) if day and day.group(3) else None
    if day is None or month is None or not day.group(1)[0].isupper():
        return None
    with contextlib.suppress(ValueError):
        iso = date(int(day.group(3)), month, int(day.group(2))).isoformat()
        return iso, m.start(), m.start(2) + day.end()
    return None


def another_times_news(asked: AskedTime, text: str, before: str, published_at: str | None) -> bool:
    """True when the sentence cannot be about the asked time: it and the sentence before it name none
    of the asked years (or days), and its article was published in none of those years (nor in the
    first two months after one: a January article tells December's news), or more than ``NEWS_DAYS``
    from an asked day."""
    if not (asked.years or asked.days) or not published_at:
        return False
    try:
        published = date.fromisoformat(published_at[:10])
    except ValueError:
        return False
    said = f"{before} {text}"
    named_years = {int(w) for w in re.findall(r"\b\d{4}\b", said)}
    if (
        asked.years
        and not named_years & asked.years
        and not any(_of_year(year, published) for year in asked.years)
    ):
        return True
    if asked.days:
        named = {(MONTHS.get(m.group(1).lower()), int(m.group(2))) for m in _MONTH_DAY.finditer(said)}
        if any((d.month, d.day) in named for d in asked.days):
            return False
        return not any(_within(d, published) for d in asked.days)
    return False


def after_asked_day(asked: AskedTime, published_at: str | None) -> bool:
    """True for an article published more than a day after every asked day: it may update the
    story, but the question asks the value of that day."""
    if not asked.days or not published_at:
        return False
    try:
        published = date.fromisoformat(published_at[:10])
    except ValueError:
        return False
    days = [d.replace(year=published.year) if d.year == 1 else d for d in asked.days]
    return all(published - d > timedelta(days=1) for d in days)


def _of_year(year: int, published: date) -> bool:
    """An article published that year, or in the first two months of the next, tells its news."""
    return published.year == year or (published.year == year + 1 and published.month <= 2)


def _within(day: date, published: date) -> bool:
    """``published`` is the asked day or up to ``NEWS_DAYS`` after it (the year, if unknown, its own)."""
    if day.year == 1:
        with contextlib.suppress(ValueError):
            day = day.replace(year=published.year)
    return timedelta(0) <= published - day <= timedelta(days=NEWS_DAYS)


# What an age is counted in ("77 years old", "aged 17 months").
AGE_UNITS = frozenset({"year", "month", "week", "day", "age"})


# A fraction written as words ("one-third", "two-thirds", "half", "a quarter"): a share.
FRACTION = re.compile(r"\b(?:half|halves|thirds?|quarters?|fifths?|tenths?)\b", re.IGNORECASE)


def has_number(sent: Sent, ent: Ent) -> bool:
    """The entity holds a number, in figures or words ("30-hour", "six decades"; not "recent months")."""
    return any(
        t.pos == "NUM" or any(c.isdigit() for c in t.text) for t in sent.toks[ent.first : ent.last + 1]
    )


def an_age(sent: Sent, ent: Ent) -> bool:
    """Whether an entity can be an age: a number or a duration, never a calendar date, an
    ordinal or a count of something else ("turns 71", "at age 77", not "Sunday", "two pilots")."""
    if ent.label == "ORDINAL" or (ent.label in WHEN and entity_dates(ent)):
        return False
    if not has_number(sent, ent):
        return False  # "next week", "years": no number, no age
    unit = counted(sent, ent)
    return not unit or unit in AGE_UNITS


def dated_elsewhere(sent: Sent, ent: Ent, asked: frozenset[int]) -> bool:
    """True when the clause the entity is in dates itself to a year the question does not ask
    ("lost to Naomi Osaka in the US Open final *in 2018*", asked about 2022), its subject does
    ("Hurricane Andrew *in 1992* killed 43 people"), a relative clause on the entity does ("the
    Yankee Hurricane, which hit Florida *on November 4, 1935*"), or the entity is in a clause
    relative to a date ("in January 2016, when three winners split $1.586 billion").

    The clause is the first verb above the entity; its year is one in an "in" or "on" phrase on
    that verb. A year elsewhere ("Williams, who won in 2014, lost to ...") dates another clause.
    """
    if not asked:
        return False
    toks = sent.toks
    verb = clause_verb(sent, ent)
    verbs = [verb] if verb is not None else []
    verbs += [c for c in sent.children(head_word(sent, ent)) if toks[c].dep in {"relcl", "acl"}]
    # The clause's subject dated itself: "Hurricane Andrew *in 1992* killed 43 people".
    verbs += [c for v in verbs[:1] for c in sent.children(v) if toks[c].dep in {"nsubj", "nsubjpass"}]
    named = {
        int(toks[j].text)
        for v in verbs
        for p in sent.children(v)
        if toks[p].dep == "prep" and toks[p].lemma in {"in", "on"}
        for j in sent.subtree(p)
        if YEAR.match(toks[j].text)
    }
    # A clause relative to a date is dated by it: "in January 2016, *when* three winners split a prize
    # advertised at $1.586 billion".
    k = head_word(sent, ent)
    for _ in range(6):
        head = toks[k].head
        if head == k:
            break
        if toks[k].dep == "relcl" and toks[head].ent == "DATE":
            span = next((e for e in sent.ents if e.first <= head <= e.last), None)
            named |= {int(w) for w in re.findall(r"\b\d{4}\b", span.text if span else "") if YEAR.match(w)}
            break
        k = head
    return bool(named) and not named & asked


def said_when(sent: Sent, ent: Ent) -> bool:
    """True for a date or time that dates a statement: it hangs on a reporting verb, directly or
    through the time it is part of ("the hurricane center said Sunday morning")."""
    toks = sent.toks
    k = head_word(sent, ent)
    for _ in range(3):
        head = toks[k].head
        if head == k:
            return False
        if toks[head].pos in {"VERB", "AUX"}:
            return toks[head].lemma in REPORTING_VERBS and toks[k].dep in {"npadvmod", "tmod", "pobj", "prep"}
        if toks[head].ent not in {"DATE", "TIME"} and toks[head].pos != "ADP":
            return False
        k = head
    return False


def in_dateline(sent: Sent, ent: Ent) -> bool:
    """The entity is in the sentence's dateline ("NASHVILLE, Tenn. –"): where the story was filed."""
    prefix = len(sent.text) - len(undated(sent.text))
    return prefix > 0 and ent.start < prefix


# Subjects that deny what their verb says ("*None* of them received more than 50%").
_NO_ONE = frozenset({"none", "nobody", "nothing", "neither", "noone"})


def denied(sent: Sent, ent: Ent) -> bool:
    """The clause the entity is in says it is not so: its verb is negated ("did not receive 50%") or
    its subject is a negative ("none of them received more than 50%", "no candidate won")."""
    toks = sent.toks
    k = clause_verb(sent, ent)
    if k is None:
        return False
    for c in sent.children(k):
        if toks[c].dep == "neg":
            return True
        if toks[c].dep in {"nsubj", "nsubjpass"} and (
            toks[c].lemma in _NO_ONE
            or any(
                toks[g].lemma == "no" and not hyphened(sent, g)
                for g in sent.children(c)
                if toks[g].dep == "det"
            )
        ):
            return True
    return False


def stated_by_subject(
    sent: Sent, ent: Ent, asked: Sequence[str], similar: Callable[[str, str], float], minimum: float
) -> bool:
    """Whether the asked predicate, as a noun, is the subject of the verb the value hangs on: "*The
    recall* affects 2 million swings", asked how many were recalled."""
    verb = clause_verb(sent, ent)
    kids = sent.children(verb) if verb is not None else []
    subjects = [sent.toks[k].lemma for k in kids if sent.toks[k].dep in {"nsubj", "nsubjpass"}]
    return any(similar(w, s) >= minimum for w in asked for s in subjects)
