"""What a question asks for: its expected answer type, predicate and names (spaCy).

:func:`analyze` reads a question:

* its **expected answer type** from the wh-word and its phrase: *who* -> a
  person (or organisation, nationality, place); *where* -> a place; *when* /
  *what year* -> a date; *how many* / *how much* / *what percentage* -> a
  quantity; *which* or *what* + a noun -> a named thing; an auxiliary first
  (*Are there...?*, *Did...?*) -> yes/no; anything else -> open (a phrase);
* its **predicate**: the content verb (or, under a light verb, the object noun)
  the answer must be about: asked "How many were *injured*", a sentence about
  the number *killed* does not answer;
* its **names**: an entity the question already contains is never its answer.

The first step of reading an answer; :mod:`qa.answer.assess` then scores sentences against it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from qa.answer.asking import phrase_starts, question_start
from qa.answer.facts import YEAR, norm_words
from qa.answer.syntax import OBJECT_DEPS, name_of
from qa.answer.syntax import prepositional_use as prepositional_use  # re-exported (assess)
from qa.models import lexicon
from qa.models.nlp import NAME_TYPES, Sent, Tok

_BRACKETS = re.compile(r"[()\[\]{};]")
PERSONISH = frozenset({"PERSON", "ORG"})
PLACE = frozenset({"GPE", "LOC", "FAC", "ORG"})
WHEN = frozenset({"DATE", "TIME"})
QUANTITY = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME", "ORDINAL"})
COUNT = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
TIME_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year", "decade", "century"})
NAMED = NAME_TYPES
# Closed class: verbs that carry no meaning of their own in a question ("What did X get?"; "where
# is it located / based" asks only a place).
LIGHT_QUESTION_VERBS = frozenset(
    {"be", "have", "do", "get", "make", "take", "go", "happen", "locate", "base"}
)
_WH = frozenset({"who", "whom", "whose", "what", "which", "where", "when", "how", "why"})
# The measure a "how <adj>" question asks for (closed: the English degree questions).
_HOW_QUANTITY = frozenset(
    {"many", "much", "long", "old", "far", "big", "large", "tall", "high", "often", "few"}
)


SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
COPULAS = frozenset({"be", "become", "remain"})  # verbs that give their subject a role
# Closed classes: measure nouns of a share and of a sum, and the verbs of paying ("how much did it *cost*").
_SHARE_NOUNS = frozenset({"percentage", "percent", "share"})
_MONEY_NOUNS = frozenset({"price", "cost", "budget", "salary", "fee", "wage"})
# Verbs of sums of money ("How much did it fetch?", "How much is the ball worth?").
MONEY_VERBS = frozenset(
    {"cost", "pay", "spend", "charge", "earn", "sell", "buy", "raise", "fetch", "owe", "donate", "invest"}
    | {"bid", "worth", "value"}
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
    subject: str = (
        ""  # the predicate's subject noun, outside the wh-phrase ("truce" in "How long did the truce last?")
    )
    constraints: tuple[str, ...] = ()  # every entity the question names: names, dates, numbers
    transitive: bool = False  # the predicate takes an object ("call *it*"), so "call *for*" is another sense
    # (year, noun it dates): "the 2022 Tour de France" -> (2022, France)
    years: tuple[tuple[str, str], ...] = ()
    # The wh-phrase's common words, lowercased ("which", "national", "park"; not "Taronga Zoo").
    wh_words: tuple[str, ...] = ()
    # The question asks what may or will happen ("When might...", "Who will..."): a modal or future
    # auxiliary; else a sentence that only says it may happen does not answer it.
    hedged: bool = False
    # "What was the magnitude of...?": the answer is a value the sentence gives that noun.
    measured: bool = False
    # The wh-phrase is the predicate's subject ("Who defeated Sunak?"): the answer is who did it.
    asks_subject: bool = False
    # "Who was the Astros' manager?": the role the answer is said to hold ("manager"), "" if none.
    role: str = ""


def years(sent: Sent) -> tuple[tuple[str, str], ...]:
    """``(year, lemma of the noun it modifies)`` for each year modifying a noun ("the 2014 Tour")."""
    toks = sent.toks
    return tuple(
        (t.text, toks[t.head].lemma)
        for i, t in enumerate(toks)
        if YEAR.match(t.text) and t.dep in {"nummod", "compound", "amod", "nmod"} and t.head != i
    )


def analyze(sent: Sent) -> QuestionInfo:
    """The question's expected answer type, predicate, content words and names."""
    toks = sent.toks
    words = [t.text.lower() for t in toks]
    kind, types = "open", frozenset()
    wh_phrase: set[int] = set()
    focus = unit = role = ""
    measured = False
    # An auxiliary first asks yes or no, whatever wh-clause follows ("Did North Korea reveal *how
    # many* infections it found?").
    q0 = question_start(sent)  # the sentence that asks; any before it sets the scene
    asks = [i for i, w in enumerate(words) if w in _WH]
    wh = (
        None
        if toks and toks[q0].pos == "AUX"
        else next((i for i in asks if i >= q0), asks[0] if asks else None)
    )
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
            # "how big / far / high" asks a size: a count or an amount, never a date or an ordinal.
            sized = counted or words[wh + 1] in {"big", "large", "tall", "high", "far"}
            kind, types = "quantity", (COUNT if sized else QUANTITY)
            wh_phrase.add(wh + 1)
            if counted and wh + 2 < len(toks) and {toks[wh + 2].pos, toks[wh + 2].dep} & {"NOUN", "compound"}:
                j = wh + 2
                # "how many monkeypox / Instagram accounts" counts accounts, "how many party members' votes" votes.
                while (
                    toks[j].dep in {"compound", "poss"}
                    and toks[j].head > j
                    and toks[toks[j].head].pos == "NOUN"
                ):
                    j = toks[j].head
                unit = toks[j].lemma
                wh_phrase.update(range(wh + 2, j + 1))
                types |= WHEN if unit in TIME_UNITS else frozenset()  # "six months" is a DATE to spaCy
        elif w in {"which", "what"} and nxt and phrase_starts(toks, wh + 1):
            # "which pitcher", "what year": the head noun decides; "what conditions" asks for a
            # description, "which city" (or "which two states") for a named thing.
            j = wh + 1
            while j + 1 < len(toks) and toks[j + 1].pos in {"NOUN", "PROPN", "ADJ"} and toks[j].pos != "NOUN":
                j += 1
            while toks[j].dep == "compound" and toks[j].head > j and toks[toks[j].head].pos == "NOUN":
                j = toks[j].head  # "which law firm": the phrase's head is "firm"
            head = toks[j]
            wh_phrase.update(range(wh, j + 1))
            kind, types = _noun_kind(head.lemma)
            if kind == "named" and (w == "what" or lexicon.abstract_noun(head.lemma)):
                kind, types = "open", frozenset()
            focus = head.lemma
        elif (
            w == "what"
            and nxt
            and toks[wh + 1].lemma == "be"
            and (j := _measure_after(toks, wh + 2)) is not None
        ):
            # "What was the magnitude of ...?", "What is the death toll ...?": the copula's noun, a
            # measure, is what is asked.
            kind, types, measured = "quantity", COUNT, True
            focus = toks[j].lemma
            wh_phrase.update(range(wh, j + 1))
        elif w == "what" and nxt and toks[wh + 1].lemma == "be" and (j := name_of(toks, wh + 2)) is not None:
            # "What was the name of the gas station owner ...?" asks a name: of an owner.
            kind, types = "named", NAMED
            focus = toks[j].lemma if j >= 0 else ""
            role = focus  # the name must be one the sentence gives an owner (a lion...)
            wh_phrase.update(range(wh, max(j, wh + 2) + 1))
    elif toks and toks[q0].pos == "AUX":
        kind = "yesno"
    names = tuple(e.text for e in sent.ents if e.label in NAME_TYPES or e.label in QUANTITY)
    content = frozenset(
        t.lemma
        for i, t in enumerate(toks)
        if i not in wh_phrase
        and t.pos in {"NOUN", "PROPN", "VERB", "ADJ", "NUM"}
        and t.lemma not in LIGHT_QUESTION_VERBS
    )
    in_ent = {i for e in sent.ents for i in range(e.first, e.last + 1)}
    strict = tuple(e.text for e in sent.ents if e.label in NAME_TYPES - {"NORP", "LANGUAGE"}) + tuple(
        t.text
        for i, t in enumerate(toks)
        if t.pos == "PROPN" and i not in in_ent and i > 0 and i not in wh_phrase
    )
    also = tuple(
        t.lemma
        for t in toks[q0:]
        if t.dep in {"ccomp", "xcomp"} and t.pos == "VERB" and t.lemma not in LIGHT_QUESTION_VERBS
    )
    concrete = (
        kind == "date"
        and wh is not None
        and (words[wh] == "when" or focus in {"date", "day", "year", "month"})
    )
    if unit == "dollar":
        unit = "money"
    # Asked "what was the magnitude", the measure noun is what the answer hangs on, not a verb.
    predicate = "" if measured else _predicate(sent, wh_phrase, q0)
    if kind == "quantity":
        # "What percentage ...", "What price ...", "How much did it cost?": a share or a sum, never a
        # date ("Sunday") or a count of something else ("11 herbs and spices").
        if focus in _SHARE_NOUNS:
            types = frozenset({"PERCENT", "QUANTITY"})
        elif focus in _MONEY_NOUNS or ("much" in words[:3] and predicate in MONEY_VERBS):
            types = frozenset({"MONEY"})
    if not predicate and kind == "named" and focus:
        # "the name of the owner *who sold* the ticket": what the named one did is the predicate.
        predicate = next(
            (
                t.lemma
                for t in toks
                if t.dep in {"relcl", "acl"} and toks[t.head].lemma == focus and t.pos == "VERB"
            ),
            "",
        )
    subject = next(
        (
            t.lemma
            for i, t in enumerate(toks)
            if t.dep in {"nsubj", "nsubjpass"}
            and t.pos == "NOUN"
            and i not in wh_phrase
            and toks[t.head].dep == "ROOT"
            and i >= q0
        ),
        "",
    )
    return QuestionInfo(
        sent.text,
        kind,
        types,
        predicate,
        content,
        names,
        focus,
        strict,
        also,
        unit,
        concrete,
        subject,
        tuple(e.text for e in sent.ents),
        _transitive(sent, predicate),
        years(sent),
        tuple(words[i] for i in sorted(wh_phrase) if toks[i].pos != "PROPN"),
        any(t.dep == "aux" and t.pos == "AUX" and t.lemma not in _PLAIN_AUX for t in toks[q0:]),
        measured,
        any(toks[i].dep in SUBJECT_DEPS for i in wh_phrase),
        role or (_role(sent, wh) if kind == "person" and wh is not None else ""),
    )


def _role(sent: Sent, wh: int) -> str:
    """The noun a "who is / was / became the <noun>" question asks the holder of ("manager", "consort")."""
    toks = sent.toks
    root = toks[wh].head
    if toks[root].lemma not in COPULAS or toks[wh].dep not in {"attr", "nsubj"}:
        return ""
    return next(
        (
            toks[k].lemma.lower()
            for k in sent.children(root)
            if k != wh and toks[k].dep in {"attr", "nsubj"} and toks[k].pos in {"NOUN", "PROPN"}
        ),
        "",
    )


# Auxiliaries of tense, voice and questions; any other (modal or future) makes a question hedged.
_PLAIN_AUX = frozenset({"be", "have", "do", "to", "'s", "'re", "'m", "'ve", "’s", "’re", "’m", "’ve"})


_WH_OBJECTS = frozenset({"what", "which", "who", "whom", "whose"})


def _transitive(sent: Sent, predicate: str) -> bool:
    """Whether the question's predicate verb takes an object ("What did Ukraine call *it*?").

    A wh-phrase spaCy makes the object of a verb whose preposition is left stranded ("Which
    president did he serve *under*?") is the preposition's object: the verb takes none.
    """
    toks = sent.toks

    def stranded(i: int) -> bool:
        return any(toks[k].dep == "prep" and not sent.children(k) for k in sent.children(i))

    def wh(k: int) -> bool:
        return any(toks[j].text.lower() in _WH_OBJECTS for j in (k, *sent.children(k)))

    return any(
        t.lemma == predicate
        and t.pos == "VERB"
        and any(toks[k].dep in OBJECT_DEPS and not (wh(k) and stranded(i)) for k in sent.children(i))
        for i, t in enumerate(toks)
    )


# Nouns of measurable dimensions ("At what *speed*...", "What was the *magnitude*"): a closed class of
# English, beside the quantity nouns.
DIMENSIONS = frozenset(
    "speed size height length distance weight depth width temperature population magnitude".split()
)


def _measure_after(toks: Sequence[Tok], i: int) -> int | None:
    """The index of the measure noun heading the noun phrase from ``i`` ("the death *toll*"), or None."""
    while i < len(toks) and toks[i].pos in {"DET", "ADJ"}:
        i += 1
    if i >= len(toks) or toks[i].pos != "NOUN":
        return None
    while toks[i].dep == "compound" and toks[i].head > i and toks[toks[i].head].pos == "NOUN":
        i = toks[i].head
    return i if _noun_kind(toks[i].lemma)[0] == "quantity" else None


@lru_cache(maxsize=4096)
def _noun_kind(lemma: str) -> tuple[str, frozenset[str]]:
    """The answer type a "which <noun>" asks for.

    Time and measure nouns are a closed set of English units; any other noun asks
    for a named thing of any type (a person, team, place, company...).
    """
    if lemma in {"year", "month", "day", "date", "time", "week", "decade", "century", "season", "hour"}:
        return "date", WHEN
    if (
        lemma
        in {
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
            "value",
            "budget",
            "salary",
        }
        | DIMENSIONS
    ):
        return "quantity", QUANTITY
    return "named", NAMED


def _predicate(sent: Sent, wh_phrase: set[int], start: int = 0) -> str:
    """The question's main content predicate: its root verb (of the sentence from ``start``), or
    under a light verb its object."""
    toks = sent.toks
    roots = [i for i, t in enumerate(toks) if t.head == i]
    root = next((i for i in roots if i >= start), roots[0] if roots else None)
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
        if k in wh_phrase or t.lemma in LIGHT_QUESTION_VERBS:
            continue
        if t.pos in {"VERB", "ADJ"} or (t.pos == "NOUN" and k != root) or (t.pos == "ADV" and k == root):
            return t.lemma  # a root adverb is a verb spaCy mistook ("Where does the winner *live*?")
    # "Which colony was Griner *sent* to?", parsed as a clause on the name under a bare "was".
    clauses = (c for k in candidates for c in sent.children(k) if toks[c].dep in {"acl", "relcl"})
    return next((toks[c].lemma for c in clauses if toks[c].pos == "VERB" and c not in wh_phrase), "")


def names_missing(info: QuestionInfo, texts: Sequence[str]) -> list[str]:
    """The question's names (people, places, organisations, events) that none of ``texts`` mentions."""
    spelled = [" ".join(norm_words(t)) for t in texts]
    haystack = " ".join(spelled)
    words = [set(text.split()) for text in spelled]

    def mentioned(part: str) -> bool:
        # "the 2022 World Series" is mentioned as "the World Series": an article about the event
        # rarely repeats its year (an article about another year's is told apart by its years).
        said = [w for w in norm_words(part) if not YEAR.match(w)]
        # A long name is mentioned when one text holds all its words: "Nathan's Famous Hot Dog
        # Eating Contest" is "Nathan's Famous International Hot Dog Eating Contest".
        # A first name may be shortened: "Ash Carter" is "Ashton Carter".
        short = r"\b" + r"\w*\s".join(map(re.escape, said)) + r"\b" if 1 < len(said) <= 4 else ""
        return (
            not said
            or " ".join(said) in haystack
            or (len(said) >= 3 and any(set(said) <= w for w in words))
            or bool(short and re.search(short, haystack))
        )

    def named(part: str) -> bool:  # or by another name of it: "Moscow said" is said of Russia
        return mentioned(part) or any(mentioned(alt) for alt in lexicon.stands_for(part))

    # An entity spaCy runs across a bracket ("Meta (Facebook's") is two names, each mentioned.
    return [n for n in info.strict_names if not all(named(part) for part in _BRACKETS.split(n))]
