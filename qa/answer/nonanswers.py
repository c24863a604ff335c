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
* **another year's news**: asked about a year ("Who won Brazil's runoff in 2018?"), a
  sentence that names no asked year (nor does the one before it), in an article published
  neither that year nor the next, tells that article's own news, not the asked year's;
* **what may happen**: asked what happened or is (no modal or future auxiliary in the
  question), a date or name in a sentence that only says it may happen ("could take
  place as early as Friday, November 4"; "should be on track to overtake") is a plan or
  a forecast, not the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from qa.answer.facts import YEAR, norm_words, unit_of, years
from qa.answer.question import QuestionInfo, _noun_kind
from qa.answer.syntax import hedged
from qa.models.nlp import Ent, Sent

# Verbs whose recipient ("told CNN") or source ("according to") is attribution, not news.
# A closed class of English reporting verbs; a question asking about one of them is exempt.
REPORTING_VERBS = frozenset({"tell", "say", "share", "speak", "confirm", "explain", "report", "accord"})


def in_question(ent: Ent, info: QuestionInfo) -> bool:
    """True when more than half of the entity's words are words of the question."""
    words = norm_words(ent.text)
    if not words:
        return False
    # The wh-phrase's words are the answer's kind, not what is asked about: asked "near which
    # national park", "Yosemite National Park" is the answer.
    asked = set(norm_words(info.text)) - set(info.wh_words)
    return sum(w in asked for w in words) * 2 > len(words)


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
        return toks[head.head].lemma in REPORTING_VERBS  # "according to", "shared with CNN"
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
    unit = unit_of(sent, ent.first, ent.last)
    if unit:
        return unit
    toks = sent.toks
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
    inside = range(ent.first, ent.last + 1)
    k = next((i for i in inside if toks[i].head not in inside), ent.last)  # the entity's own head word
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


def asked_years(question: str) -> frozenset[int]:
    """The years a question names ("in 2018", "the 2022 World Series")."""
    return frozenset(int(w) for w in re.findall(r"\b\d{4}\b", question) if YEAR.match(w))


def another_years_news(asked: frozenset[int], text: str, before: str, published_at: str | None) -> bool:
    """True when the sentence cannot be about an asked year: it and the sentence before it name
    none of them, and its article was published in none of them nor the year after (a January
    article tells December's news)."""
    if not asked or not published_at or not published_at[:4].isdigit():
        return False
    named = {int(w) for w in re.findall(r"\b\d{4}\b", f"{before} {text}")}
    if named & asked:
        return False
    published = int(published_at[:4])
    return not any(year <= published <= year + 1 for year in asked)
