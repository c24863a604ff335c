"""The asked value across articles: which article states which number, so updates and differences show.

A question that asks for a quantity ("How many people died...", "What is the
death toll...", "How big is the jackpot?") is about a value that changes from day
to day and from outlet to outlet.  The answer's cited sentence often does not hold
that value (it quotes a sentence about one county, or the one that names the
record), so comparing only the cited sentence with other articles' sentences
finds few updates.  This module reads the value where it is stated instead:

1. **Which value is asked** (:func:`asked_measure`): the question's answer type
   (:func:`qa.answer.question.analyze`: *how many* / *how much* / a measure noun
   such as *toll*, *price*, *rate*) and what it counts (its unit: "people",
   "acres"; else its predicate, "die", and focus).
2. **Where it is stated** (:func:`statements`): among the sentences of the
   retrieved articles (the cited one included) of articles that name one of the
   question's people, places or events, those close to the question (the
   verifier's lexical + cosine score, ``MIN_SCORE``) that hold a number of the
   asked kind (money, a percentage or a count) about what is asked: its counted
   noun is the asked unit or what the asked verb makes of it ("277 deaths" for
   "how many died"), or a word near it is close in meaning to the question's
   words (word embeddings, ``MIN_UNIT_SIMILARITY``), and, when the question has a
   content verb, a word near it is close to that verb ("14,000 people arrested" is
   no answer to "how many died"); one statement per article, its closest sentence.
3. **Which articles differ** (:func:`differing`): the statements whose value is
   another than the cited article's own statement of it (the cited sentence when
   it holds one, else its article's statement), with the same kind of number,
   close to the asked fact (``MIN_FACT_SCORE``), copies counted once; the newer
   ones first (newest first), then the older ones, at most ``MAX_DIFFERING``.
4. **Which articles agree** (:func:`agreeing`): the statements with the cited
   value (``facts.SAME_VALUE``, or ``facts.APPROX`` when either is approximate), close to the
   asked fact.

:func:`qa.answer.corroborate.corroborate` adds the differing ones to the answer
sentence's ``contradicted_by`` and the agreeing ones to its ``supported_by``; :func:`qa.answer.timeaware.make_time_aware` then leads with
the newest value and says what it replaced, with both citations.  Facts are
matched by meaning (scores and unit embeddings), never by string equality, and the
work is bounded: ``MAX_READ`` sentences are read per answer.

A question that asks *when* ("When will NASA next try to launch...?") asks for a date that
moves the same way: each article's calendar dates are its values (unit "date", one day one
value), a weekday read against the article's date, forward when said of what is to come
(:func:`qa.answer.article_dates.calendar_dates`); and asked a measure with a closed set of
units (a speed, a weight), a number in another dimension's units is no value of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer.article_dates import calendar_dates
from qa.answer.entail_values import PER_TIME, per_time
from qa.answer.evidence import Candidate
from qa.answer.facts import (
    Quantity,
    fits_dimension,
    governor,
    has_units,
    norm_words,
    quantities,
    same_amount,
    same_name,
)
from qa.answer.nonanswers import AGE_UNITS, counted
from qa.answer.question import LIGHT_QUESTION_VERBS, QuestionInfo, _noun_kind, names_missing
from qa.answer.verify import Verifier
from qa.ingest.dedup import OriginIndex
from qa.models.lexicon import person_noun
from qa.models.nlp import Sent
from qa.types import Passage

# A sentence this close to the question (lexical + cosine, as the verifier scores evidence) may state
# the asked value; below it a number is about something else.
MIN_SCORE = 0.35  # corroboration's bar to judge a sentence at all (``corroborate.MIN_SCORE``)
# Sentences read (annotated and searched for numbers) per answer, the closest first.
MAX_READ = 40
# A number counts things close in meaning to what the question counts ("deaths" for "how many died").
MIN_UNIT_SIMILARITY = 0.5
# Words either side of a number that say what it is about ("*killed* at least 120 *people*").
WINDOW = 4
# A differing statement this close to the asked fact (the question and the cited value) is about it;
# the bar corroboration uses for a sentence that names the answer (``corroborate.MIN_FACT_SCORE``).
MIN_FACT_SCORE = 0.4
# Differing statements listed per answer sentence at most.
MAX_DIFFERING = 3


@dataclass(frozen=True)
class Statement:
    """One article's statement of the asked value: its sentence, the number and how close it is."""

    cand: Candidate
    quantity: Quantity
    score: float


@dataclass(frozen=True)
class Measure:
    """What a quantity question asks for: the kind of number, what it counts and what happened to it."""

    kinds: frozenset[str]  # the kinds of number that answer it: money, %, count
    words: tuple[str, ...]  # what the question is about: its nouns and verbs (not names, not light verbs)
    unit: str  # the unit the question names ("acre" in "how many acres"), "" if none
    verb: str  # the question's content verb ("die" in "how many died"), "" if none
    info: QuestionInfo  # the question read (its names: an article about another event lacks them)
    per_time: bool = False  # asked a sum per unit of time ("a month", "annually")


# Nouns that name the kind of number asked for (a closed class, see ``qa.answer.question._noun_kind``).
_PERCENT = frozenset({"percentage", "percent", "rate", "share"})
_MONEY = frozenset({"price", "cost", "fee", "salary", "wage", "worth"})


def asked_measure(info: QuestionInfo, question: Sent) -> Measure | None:
    """The measure a question asks for, or None when it asks for no quantity (who, where, yes/no...)."""
    nouns = [t.lemma for t in question.toks if t.pos == "NOUN"]
    measure_nouns = [n for n in nouns if _noun_kind(n)[0] == "quantity"]  # dimensions included
    dated = info.kind == "date" and info.concrete  # "When will NASA next try...": each article's date
    if not dated and info.kind != "quantity" and not (info.kind == "open" and measure_nouns):
        return None
    lowered = [t.text.lower() for t in question.toks]
    low = set(lowered)
    by_how_much = any(lowered[i : i + 3] == ["by", "how", "much"] for i in range(len(lowered)))
    if dated:
        kinds = {"date"}
    elif by_how_much:
        kinds = {"money", "%"}  # "by how much were prices up": a change, in money or as a share
    elif set(measure_nouns) & _PERCENT:
        kinds = {"%"}
    elif info.unit == "money" or set(measure_nouns) & _MONEY:
        kinds = {"money"}
    elif info.unit or low & {"many", "few"}:
        kinds = {"count"}
    elif "much" in low:
        kinds = {"money", "%"}  # "how much" asks for an amount, not a count of things
    else:
        kinds = {"money", "count"}  # "how big", "what speed", "what total"
    names = {i for e in question.ents for i in range(e.first, e.last + 1)}
    words = tuple(
        dict.fromkeys(
            t.lemma.lower()
            for i, t in enumerate(question.toks)
            if t.pos in {"NOUN", "VERB"} and i not in names and t.lemma not in LIGHT_QUESTION_VERBS
        )
    )
    verb = info.predicate if any(t.lemma == info.predicate and t.pos == "VERB" for t in question.toks) else ""
    unit = info.unit if info.unit != "money" else ""
    words = tuple(w for w in words if w != unit)
    return Measure(frozenset(kinds), words, unit, verb, info, bool(PER_TIME.search(info.text)))


def _kind(q: Quantity) -> str:
    return q.unit if q.unit in {"money", "%", "date"} else "count"


def _values(sent: Sent, measure: Measure, published: str | None) -> list[Quantity]:
    """The sentence's values of the measure's kinds: its calendar dates when a date is asked."""
    if "date" in measure.kinds:
        return calendar_dates(sent, published)
    return [q for q in quantities(sent) if _kind(q) in measure.kinds]


class _Related:
    """Whether a word of an article is one of the question's words or close in meaning (cached per answer)."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self._known: dict[tuple[str, tuple[str, ...]], bool] = {}

    def __call__(self, lemmas: Sequence[str], words: Sequence[str]) -> bool:
        if not words or not lemmas:
            return False
        if any(w in words for w in lemmas):
            return True
        self.prime(lemmas, words)
        return any(self._known[(w, tuple(words))] for w in lemmas)

    def prime(self, lemmas: Sequence[str], words: Sequence[str]) -> None:
        """Compare all of ``lemmas`` with ``words`` in one embedding call (new words only)."""
        key = tuple(words)
        new = [w for w in dict.fromkeys(lemmas) if w and (w, key) not in self._known]
        if new and words:
            vectors = self.verifier.embeddings.embed([*words, *new])
            sims = vectors[len(words) :] @ vectors[: len(words)].T
            for w, row in zip(new, sims, strict=True):
                self._known[(w, key)] = float(row.max()) >= MIN_UNIT_SIMILARITY


def statements(
    question: str,
    measure: Measure,
    pool: Sequence[Candidate],
    verifier: Verifier,
    passages: Sequence[Passage],
) -> dict[str, Statement]:
    """Per article (doc id), its closest sentence stating a value of ``measure`` (see the module docstring)."""
    texts: dict[str, list[str]] = {}
    for p in passages:
        texts.setdefault(p.doc_id, []).extend([p.text, p.title])
    # An article that names none of the question's people, places and events is about another story
    # (none: its passages read here may name the story otherwise, "the storm" for "Hurricane Ian").
    names = measure.info.strict_names
    about = {d: not names or len(names_missing(measure.info, t)) < len(names) for d, t in texts.items()}
    pool = [c for c in pool if about.get(c.doc_id, not names)]
    if not pool:
        return {}
    scores = verifier.score([question], pool)[0]
    order = [i for i in sorted(range(len(pool)), key=lambda i: -scores[i]) if scores[i] >= MIN_SCORE]
    order = order[:MAX_READ]
    sents = verifier.annotator.annotate([pool[i].text for i in order], persist=False)
    found: dict[str, Statement] = {}
    related = _Related(verifier)
    # The words around every number, compared with the question's in one embedding call.
    published = [passages[pool[i].passage - 1].published_at for i in order]
    lemmas = [
        w
        for sent, day in zip(sents, published, strict=True)
        for q in _values(sent, measure, day)
        for w in _frame(sent, q)
    ]
    related.prime(lemmas, measure.words)
    if measure.verb:
        related.prime(lemmas, [measure.verb])
    for i, sent, day in zip(order, sents, published, strict=True):
        cand = pool[i]
        if cand.doc_id in found:
            continue
        q = value_in(sent, measure, related, day)
        if q is not None:
            found[cand.doc_id] = Statement(cand, q, float(scores[i]))
    return found


def value_in(
    sent: Sent, measure: Measure, related: _Related | Verifier, published: str | None = None
) -> Quantity | None:
    """The number of ``sent`` of the asked kind about what the question asks (see the module docstring).

    Of several ("up to $10,000 ... or as much as $20,000 for Pell Grant recipients"), the one
    nearest a name the question holds; else the first.
    """
    found = _values_in(
        sent, measure, related if isinstance(related, _Related) else _Related(related), published
    )
    if len(found) < 2:
        return found[0] if found else None
    named = {w for name in measure.info.names for w in norm_words(name)}
    at = [i for i, t in enumerate(sent.toks) if named & set(norm_words(t.text)[:1])]
    if not at or not all(_same_scale(q, found[0]) for q in found):
        return found[0]  # "15,000 miles per hour (24,140 kilometers per hour)": one value, the first
    return min(found, key=lambda q: min(abs(q.index - i) for i in at))


def _values_in(sent: Sent, measure: Measure, related: _Related, published: str | None) -> list[Quantity]:
    out: list[Quantity] = []
    for q in _values(sent, measure, published):
        kind = _kind(q)
        if q.text.lower() == "one":
            continue  # "one of the...", "no one": the word is rarely a count
        if measure.info.wh_words[:2] == ("how", "old") and q.unit and q.unit not in AGE_UNITS:
            continue  # asked an age, "a rule spanning seven decades" is no age
        if q.ordinal and not (measure.unit and _follows(sent, q, measure.unit)):
            continue  # "the sixth time", "the 41st draw": an ordinal is a count only of the asked unit
        last = q.index + len(q.text.split()) - 1
        if not all(fits_dimension(w, sent, last, q.unit) for w in measure.words):
            continue  # asked a speed, "55 feet" measures a length
        if kind == "date" or any(has_units(w) for w in measure.words):
            # "14,000 mph" is the asked speed, and a calendar date in a sentence close to "when ...?"
            # the asked date, whatever words the outlet puts around it.
            out.append(q)
            continue
        if kind == "money" and per_time(sent, q) != measure.per_time:
            continue  # asked what a deal cost, "$8 a month" is a fee; asked a monthly fee, "$44 billion" a sum
        if _another_actors(sent, q.index, measure.info):
            continue  # asked Godard's age at death, "Anna Karina ... dies at 79"
        frame = _frame(sent, q)
        if measure.unit:
            # "how many people died": people, or what the verb makes of them ("277 deaths"), or what
            # a measure noun it rose to counts ("the number of dead climbed to 154").
            unit = q.unit or next((counted(sent, e) for e in sent.ents if e.first <= q.index <= e.last), "")
            named = unit == measure.unit or _follows(sent, q, measure.unit)
            # Asked how many people, any kind of person counts ("156 victims").
            named = named or (measure.unit in {"people", "person"} and person_noun(unit))
            if kind == "count" and not (named or (measure.verb and unit and related([unit], [measure.verb]))):
                continue
        elif not related(frame, measure.words):
            continue
        if measure.verb and not related(frame, [measure.verb]):
            continue
        out.append(q)
    return out


def _another_actors(sent: Sent, i: int, info: QuestionInfo) -> bool:
    """The verb the number hangs from has a person for its subject that the question, which names
    someone, does not name: the value is someone else's."""
    k = i
    for _ in range(4):
        if sent.toks[k].head == k:
            return False
        k = sent.toks[k].head
        if sent.toks[k].pos in {"VERB", "AUX"}:
            break
    else:
        return False
    for e in sent.ents:
        subject = sent.toks[e.last].dep in {"nsubj", "nsubjpass"} and sent.toks[e.last].head == k
        if (
            subject
            and e.label == "PERSON"
            and info.names
            and not any(same_name(e.text, n) for n in info.names)
        ):
            return True
    return False


def _follows(sent: Sent, q: Quantity, unit: str) -> bool:
    """``unit`` is among the three words after the number ("61st *home* run")."""
    return unit in {t.lemma for t in sent.toks[q.index + 1 : q.index + 4]}


def _frame(sent: Sent, q: Quantity) -> list[str]:
    """The words a number is about: what it counts, the verb it hangs from, and the nouns and verbs near it."""
    verb, _ = governor(sent, q.index)
    near = [
        t.lemma.lower()
        for t in sent.toks[max(0, q.index - WINDOW) : q.index + WINDOW + 1]
        if t.pos in {"NOUN", "VERB", "ADJ"}
    ]
    return [w for w in dict.fromkeys([q.unit, verb, *near]) if w and w not in {"money", "%"}]


# A rate's unit written as one word ("mph") or as its length ("miles per hour").
_RATE_UNITS = {"mph": "mile", "kph": "kilometer"}


def _same_scale(a: Quantity, b: Quantity) -> bool:
    """Two counts of one unit ("14,000 mph" / "15,000 miles per hour"), or either unit unsaid:
    "24,140 kilometers" and "14,000 mph" are one speed, not two values."""
    ua, ub = _RATE_UNITS.get(a.unit, a.unit), _RATE_UNITS.get(b.unit, b.unit)
    return ua == ub or not ua or not ub


def same_value(a: Quantity, b: Quantity) -> bool:
    """One value: equal within rounding, or within ``APPROX`` when either is approximate ("nearly $25 billion")."""
    if _kind(a) == _kind(b) == "date":
        return a.value == b.value  # one day (an ordinal: a relative tolerance would span years)
    return _kind(a) == _kind(b) and same_amount(a, b)


def _close(
    cited: Statement, others: Sequence[Statement], verifier: Verifier, question: str
) -> list[Statement]:
    """The statements close to the asked fact (the question with the cited value, ``MIN_FACT_SCORE``)."""
    if not others:
        return []
    fact = verifier.score([f"{question} {cited.quantity.text}"], [s.cand for s in others])[0]
    return [s for s, score in zip(others, fact, strict=True) if score >= MIN_FACT_SCORE]


def agreeing(
    cited: Statement, found: dict[str, Statement], verifier: Verifier, question: str
) -> list[Statement]:
    """The statements of other articles with ``cited``'s value, close to the asked fact: they support it."""
    same = [
        s for doc, s in found.items() if doc != cited.cand.doc_id and same_value(s.quantity, cited.quantity)
    ]
    return _close(cited, same, verifier, question)


def differing(
    cited: Statement,
    found: dict[str, Statement],
    dates: dict[str, str | None],
    verifier: Verifier,
    question: str,
    origins: OriginIndex | None = None,
) -> list[Statement]:
    """The statements whose value differs from ``cited``'s: the newest first, then the latest older ones.

    A statement counts when it is close to the asked fact (the question with the cited value,
    ``MIN_FACT_SCORE``, as corroboration matches a fact) and is no copy of the cited article
    or of another statement's article (a copy is one origin, not another report).
    """
    others = [
        s
        for doc, s in found.items()
        if doc != cited.cand.doc_id
        and _kind(s.quantity) == _kind(cited.quantity)
        and _same_scale(s.quantity, cited.quantity)
        and not same_value(s.quantity, cited.quantity)
    ]
    others = _close(cited, others, verifier, question)
    if origins is not None:
        groups = origins.groups([cited.cand.doc_id, *(s.cand.doc_id for s in others)])
        firsts = {group[0] for group in groups}
        others = [s for s in others if s.cand.doc_id in firsts]
    when = dates.get(cited.cand.doc_id) or ""
    newer = sorted(
        (s for s in others if (dates.get(s.cand.doc_id) or "") > when),
        key=lambda s: dates.get(s.cand.doc_id) or "",
        reverse=True,
    )
    rest = sorted(
        (s for s in others if s not in newer),
        key=lambda s: (dates.get(s.cand.doc_id) or "", s.score),
        reverse=True,
    )
    return [*newer, *rest][:MAX_DIFFERING]
