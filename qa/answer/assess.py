"""What a question asks for, whether a sentence holds it, and how sure the answer is.

:func:`analyze` reads a question with spaCy:

* its **expected answer type** from the wh-word and its phrase: *who* -> a
  person (or organisation, nationality, place); *where* -> a place; *when* /
  *what year* -> a date; *how many* / *how much* / *what percentage* -> a
  quantity; *which* or *what* + a noun -> a named thing; an auxiliary first
  (*Are there...?*, *Did...?*) -> yes/no; anything else -> open (a phrase);
* its **predicate**: the content verb (or, under a light verb, the object noun)
  the answer must be about: asked "How many were *injured*", a sentence about
  the number *killed* does not answer;
* its **names**: an entity the question already contains is never its answer.

:func:`assess` scores one sentence against the analysis: relevance (from the
backend), whether it holds an answer of the expected type that the question
doesn't contain, whether it states the question's predicate (same lemma, or a
word whose embedding is close), and the share of the question's content words
it covers.  :func:`confidence` maps those features through a logistic model
fitted on the dev sets (``evals/calibrate.py`` writes ``qa/answer/data/confidence.json``),
so 0.8 means about 80% of such answers were right there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qa.answer.entail import entity_dates, same_name
from qa.models.nlp import NAME_TYPES, Annotator, Ent, Sent

PERSONISH = frozenset({"PERSON", "ORG"})
PLACE = frozenset({"GPE", "LOC", "FAC", "ORG"})
WHEN = frozenset({"DATE", "TIME"})
QUANTITY = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME", "ORDINAL"})
COUNT = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
NAMED = NAME_TYPES
# Closed class: verbs that carry no meaning of their own in a question ("What did X get?").
_LIGHT = frozenset({"be", "have", "do", "get", "make", "take", "go", "happen"})
_WH = frozenset({"who", "whom", "whose", "what", "which", "where", "when", "how", "why"})
# The measure a "how <adj>" question asks for (closed: the English degree questions).
_HOW_QUANTITY = frozenset(
    {"many", "much", "long", "old", "far", "big", "large", "tall", "high", "often", "few"}
)
MODEL_PATH = Path(__file__).resolve().parent / "data" / "confidence.json"
FEATURES = (
    "relevance",
    "coverage",
    "predicate",
    "typed",
    "single_answer",
    "described",
    "names_in_sentence",
    "top_passage",
    "support",
    "cited",
)


@dataclass(frozen=True)
class QuestionInfo:
    """What a question asks for."""

    text: str
    kind: str  # person | place | date | quantity | named | yesno | open
    types: frozenset[str]
    predicate: str  # lemma the answer must be about ("" when none)
    content: frozenset[str]  # content lemmas of the question (without the wh-phrase)
    names: tuple[str, ...]  # names the question already contains
    focus: str = ""  # the wh-phrase's noun ("conditions" in "What conditions..."), "" if none
    strict_names: tuple[str, ...] = ()  # names an answer's passage must mention (not nationalities)
    also: tuple[str, ...] = ()  # verbs of clauses under the predicate ("claim it *hit*")
    unit: str = ""  # what "how many" counts ("weeks"), "" if not said
    concrete: bool = False  # a date question that wants a calendar date ("when", "what date")


@dataclass
class SentenceFit:
    """How well one sentence answers a question."""

    relevance: float
    coverage: float
    predicate: float  # 1 same lemma, else the embedding similarity of the closest word (0 if none)
    answers: list[Ent] = field(default_factory=list)  # entities of the expected type, not in the question
    described: bool = True  # for "which <noun>": the sentence calls an answer a <noun> (or a synonym)
    named: list[Ent] = field(default_factory=list)  # those answers

    @property
    def typed_answer(self) -> float:
        return 1.0 if self.answers else 0.0


def analyze(sent: Sent) -> QuestionInfo:
    """The question's expected answer type, predicate, content words and names."""
    toks = sent.toks
    words = [t.text.lower() for t in toks]
    kind, types = "open", frozenset()
    wh_phrase: set[int] = set()
    focus = unit = ""
    focus = unit = ""
    wh = next((i for i, w in enumerate(words) if w in _WH), None)
    if wh is not None:
        w = words[wh]
        wh_phrase.add(wh)
        nxt = wh + 1 < len(toks) and toks[wh + 1]
        if w in {"who", "whom", "whose"}:
            kind, types = "person", PERSONISH
        elif w == "where":
            kind, types = "place", PLACE
        elif w == "when":
            kind, types = "date", WHEN
        elif w == "how" and nxt and words[wh + 1] in _HOW_QUANTITY:
            # "how many" counts; "how long", "how old", "how often" may be answered by a duration.
            counted = words[wh + 1] in {"many", "much", "few"}
            kind, types = "quantity", (COUNT if counted else QUANTITY)
            wh_phrase.add(wh + 1)
            if counted and wh + 2 < len(toks) and toks[wh + 2].pos == "NOUN":
                unit = toks[wh + 2].lemma
                wh_phrase.add(wh + 2)
        elif w in {"which", "what"} and nxt and toks[wh + 1].pos in {"NOUN", "PROPN", "ADJ"}:
            # "which pitcher", "what year", "what percentage": the phrase's head noun decides;
            # "what conditions" asks for a description, "which city" for a named thing.
            # "which pitcher", "what year", "what percentage": the phrase's head noun decides.
            j = wh + 1
            while j + 1 < len(toks) and toks[j + 1].pos in {"NOUN", "PROPN", "ADJ"} and toks[j].pos != "NOUN":
                j += 1
            head = toks[j]
            wh_phrase.update(range(wh, j + 1))
            kind, types = _noun_kind(head.lemma)
            if kind == "named" and w == "what":
                kind, types = "open", frozenset()
            focus = head.lemma
    elif toks and toks[0].pos == "AUX":
        kind = "yesno"
    names = tuple(e.text for e in sent.ents if e.label in NAME_TYPES or e.label in QUANTITY)
    content = frozenset(
        t.lemma
        for i, t in enumerate(toks)
        if i not in wh_phrase and t.pos in {"NOUN", "PROPN", "VERB", "ADJ", "NUM"} and t.lemma not in _LIGHT
    )
    in_ent = {i for e in sent.ents for i in range(e.first, e.last + 1)}
    strict = tuple(e.text for e in sent.ents if e.label in NAME_TYPES - {"NORP", "LANGUAGE"}) + tuple(
        t.text
        for i, t in enumerate(toks)
        if t.pos == "PROPN" and i not in in_ent and i > 0 and i not in wh_phrase
    )
    also = tuple(
        t.lemma for t in toks if t.dep in {"ccomp", "xcomp"} and t.pos == "VERB" and t.lemma not in _LIGHT
    )
    concrete = (
        kind == "date"
        and wh is not None
        and (words[wh] == "when" or focus in {"date", "day", "year", "month"})
    )
    if unit == "dollar":
        unit = "money"
    return QuestionInfo(
        sent.text,
        kind,
        types,
        _predicate(sent, wh_phrase),
        content,
        names,
        focus,
        strict,
        also,
        unit,
        concrete,
    )


@lru_cache(maxsize=4096)
def _noun_kind(lemma: str) -> tuple[str, frozenset[str]]:
    """The answer type a "which <noun>" asks for.

    Time and measure nouns are a closed set of English units; any other noun asks
    for a named thing of any type (a person, team, place, company...).
    """
    if lemma in {"year", "month", "day", "date", "time", "week", "decade", "century", "season", "hour"}:
        return "date", WHEN
    if lemma in {
        "number",
        "percentage",
        "percent",
        "amount",
        "price",
        "cost",
        "share",
        "rate",
        "total",
        "sum",
        "age",
        "score",
        "margin",
        "toll",
        "count",
    }:
        return "quantity", QUANTITY
    return "named", NAMED


def _predicate(sent: Sent, wh_phrase: set[int]) -> str:
    """The question's main content predicate: its root verb, or under a light verb its object."""
    toks = sent.toks
    root = next((i for i, t in enumerate(toks) if t.head == i), None)
    if root is None:
        return ""
    candidates = [root]
    # Under "did", "was", "have": the verb or noun that carries the meaning.
    candidates += [
        k
        for k in sent.children(root)
        if toks[k].dep in {"xcomp", "ccomp", "acomp", "attr", "dobj", "nsubjpass", "advcl"}
    ]
    for k in candidates:
        t = toks[k]
        if k in wh_phrase or t.lemma in _LIGHT:
            continue
        if t.pos in {"VERB", "ADJ"} or (t.pos == "NOUN" and k != root):
            return t.lemma
    return ""


def assess(
    info: QuestionInfo,
    sent: Sent,
    relevance: float,
    *,
    context: Sequence[Sent] = (),
    word_similarity: Callable[[str, Sequence[str]], list[float]] | None = None,
    min_predicate: float = 0.45,
) -> SentenceFit:
    """How well ``sent`` answers the question ``info`` (see :class:`SentenceFit`).

    A typed answer whose own verb is another predicate than the question's
    ("killed" when asked "injured") is not an answer.
    """
    lemmas = set(sent.lemmas)
    for c in context:
        lemmas |= c.lemmas

    verbs = {_argument_of(sent, e) for e in sent.ents if e.label in info.types} if info.types else set()
    # Predicates are verbs; the wh-noun and the counted noun are nouns.
    pos = {"VERB", "NOUN"} if (info.focus or info.unit) else {"VERB"}
    words = sorted({t.lemma for t in sent.toks if t.pos in pos} | verbs - {""})
    table: dict[tuple[str, str], float] = {}
    if word_similarity is not None and words:
        for w in (info.predicate, info.focus, info.unit, *info.also):
            if w:
                for x, score in zip(words, word_similarity(w, words), strict=True):
                    table[(w, x)] = score

    def similar(a: str, b: str) -> float:
        return 1.0 if a == b else table.get((a, b), 0.0)

    coverage = len(info.content & lemmas) / len(info.content) if info.content else 0.0
    # "What conditions...": the wh-noun is what the sentence must be about; for "which leaders"
    # it only names the type of the answer.
    wanted = [w for w in (info.predicate, *info.also, info.focus if info.kind == "open" else "") if w]
    if not wanted or any(w in sent.lemmas for w in wanted):
        predicate = 1.0
    else:
        predicate = max((similar(w, x) for w in wanted for x in words), default=0.0)
    answers: list[Ent] = []
    described: list[Ent] = []
    if info.types:
        for ent in sent.ents:
            if ent.label not in info.types:
                continue
            if any(same_name(ent.text, name) for name in info.names) or ent.text.lower() in info.text.lower():
                continue
            if _describes(sent, ent, info.focus):
                continue  # "U.S. and European leaders" describes the leaders asked about; it names none
            verb = _argument_of(sent, ent)
            asked = [w for w in (info.predicate, *info.also) if w]
            if asked and verb and verb not in _LIGHT and max(similar(w, verb) for w in asked) < min_predicate:
                continue  # the number killed is no answer to how many were injured
            if info.unit and ent.label in COUNT:
                unit = _counted(sent, ent)
                if unit != info.unit and (not unit or similar(info.unit, unit) < min_predicate):
                    continue  # asked how many weeks, "87,000 employees" is no answer
            if info.kind == "date" and ent.label in WHEN and not entity_dates(ent) and info.concrete:
                continue  # asked on what date, "half a century" is no answer
            if info.kind == "named" and info.focus and _near(sent, ent, info.focus, similar):
                described.append(ent)  # asked which hospital, the sentence calls it a hospital
            answers.append(ent)
    if described:
        answers = described + [a for a in answers if a not in described]
    return SentenceFit(
        relevance, coverage, predicate, answers, bool(described) or info.kind != "named", described
    )


def _counted(sent: Sent, ent: Ent) -> str:
    """The noun a number counts ("87,000 employees" -> employee), "money" or "%", or ""."""
    from qa.answer.entail import _unit

    return _unit(sent, ent.first, ent.last)


def _near(sent: Sent, ent: Ent, noun: str, similar: Callable[[str, str], float], window: int = 4) -> bool:
    """True when the sentence calls the entity a ``noun`` (or a near synonym) right beside it."""
    toks = sent.toks
    around = set(range(max(0, ent.first - window), min(len(toks), ent.last + window + 1)))
    k = ent.last
    for _ in range(3):  # its head chain: "the city of Sumy", "Sumy, a city"
        k = toks[k].head
        around.add(k)
    around -= set(range(ent.first, ent.last + 1))
    return any(
        toks[k].lemma == noun or similar(noun, toks[k].lemma) >= 0.5 for k in around if toks[k].pos == "NOUN"
    )


def _argument_of(sent: Sent, ent: Ent) -> str:
    """The verb an entity is an argument of ("killed at least 35 people" -> kill), or "".

    Only direct arguments count: the entity itself, or the noun it counts or names
    when that noun is the verb's subject or object.  A number inside a modifier
    ("a 30-hour ceasefire declared by Putin") belongs to its noun, not to the verb.
    """
    toks = sent.toks
    head = toks[ent.last].head
    if toks[head].pos in {"VERB", "AUX"}:
        return toks[head].lemma
    if toks[ent.last].dep == "pobj" and toks[toks[head].head].pos in {"VERB", "AUX"}:
        return toks[toks[head].head].lemma
    if toks[head].pos == "NOUN" and toks[head].dep in {"dobj", "nsubj", "nsubjpass", "attr"}:
        verb = toks[head].head
        if toks[verb].pos in {"VERB", "AUX"}:
            return toks[verb].lemma
    return ""


def names_missing(info: QuestionInfo, texts: Sequence[str]) -> list[str]:
    """The question's names (people, places, organisations, events) that none of ``texts`` mentions."""
    from qa.answer.entail import _norm_words

    haystack = " ".join(" ".join(_norm_words(t)) for t in texts)
    return [n for n in info.strict_names if " ".join(_norm_words(n)) not in haystack]


def _describes(sent: Sent, ent: Ent, focus: str) -> bool:
    """True when the entity modifies the question's own wh-noun instead of naming an instance of it."""
    if not focus:
        return False
    toks = sent.toks
    k = ent.last
    for _ in range(3):
        t = toks[k]
        if t.dep not in {"amod", "compound", "nmod", "poss", "conj", "cc"} or t.head == k:
            return False
        k = t.head
        if toks[k].lemma == focus and k > ent.last:
            return True
    return False


def best_answer(info: QuestionInfo, sent: Sent, fit: SentenceFit) -> Ent | None:
    """The answer entity closest to the words the question and the sentence share."""
    if not fit.answers:
        return None
    anchors = [i for i, t in enumerate(sent.toks) if t.lemma in info.content or t.lemma == info.predicate]
    if not anchors:
        return fit.answers[0]

    def distance(ent: Ent) -> int:
        return min(min(abs(a - ent.first), abs(a - ent.last)) for a in anchors)

    preferred = fit.named or [e for e in fit.answers if e.label in _preferred(info.kind)] or fit.answers
    return min(preferred, key=distance)


def _preferred(kind: str) -> frozenset[str]:
    return {
        "person": frozenset({"PERSON"}),
        "place": frozenset({"GPE", "LOC"}),
        "quantity": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    }.get(kind, frozenset())


@lru_cache(maxsize=1)
def _model() -> dict[str, float]:
    try:
        data = json.loads(MODEL_PATH.read_text("utf-8"))
        return {k: float(v) for k, v in data["weights"].items()} | {"bias": float(data["bias"])}
    except (OSError, ValueError, KeyError):
        # Uncalibrated fallback: a plain average, so confidence still orders answers.
        return {name: 1.0 for name in FEATURES} | {"bias": -3.0}


def confidence(features: dict[str, float]) -> float:
    """The calibrated probability that an answer with these features is right."""
    model = _model()
    z = model["bias"] + sum(model.get(k, 0.0) * features.get(k, 0.0) for k in FEATURES)
    return round(1.0 / (1.0 + math.exp(-z)), 4)


def features(
    info: QuestionInfo, sent: Sent, fit: SentenceFit, *, support: float, cited: int, rank: int
) -> dict[str, float]:
    """The confidence model's inputs for an answer whose best cited sentence is ``sent``.

    ``rank`` is the 0-based retrieval rank of that sentence's passage.
    """
    names = info.strict_names
    in_sentence = len(names) - len(names_missing(info, [sent.text])) if names else 0
    return {
        "relevance": fit.relevance,
        "coverage": fit.coverage,
        "predicate": fit.predicate,
        "typed": 1.0 if info.types else 0.0,
        "single_answer": (1.0 / len(fit.answers)) if fit.answers else 0.0,
        "described": 1.0 if fit.described else 0.0,
        "names_in_sentence": in_sentence / len(names) if names else 1.0,
        "top_passage": 1.0 / (1 + rank),
        "support": support,
        "cited": float(min(cited, 3)) / 3,
    }


def annotate_question(annotator: Annotator, question: str) -> tuple[Sent, QuestionInfo]:
    sent = annotator.annotate([question], persist=False)[0]
    return sent, analyze(sent)
