"""What a sentence states, read from its spaCy annotation: names, quantities, dates.

The readers :mod:`qa.answer.entail` compares a claim and its evidence with, and
:mod:`qa.answer.question` / :mod:`qa.answer.assess` read questions and answers
with: names with aliases and demonyms, quantities with their unit and qualifier,
and calendar dates (who did what to whom is :mod:`qa.answer.syntax`).  The only
word lists are closed grammatical classes (numeral words, quantity qualifiers,
months and weekdays).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qa.models.nlp import NAME_TYPES, Ent, Sent
from qa.text import CACHED_CHARS

# Closed grammatical classes.
_LOWER = ("at least", "more than", "over", "above", "greater than", "upwards of", "exceeding")
_UPPER = ("at most", "less than", "fewer than", "up to", "under", "below", "no more than")
_APPROX = ("about", "around", "nearly", "almost", "roughly", "approximately", "some", "close to")
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {
    "zero": 0,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_LETTER_SCALES = {"k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, "t": 1e12, "tn": 1e12}
_SCALES = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "dozen": 12}
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "last": -1,
}
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()
    )
}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
WEEKDAYS = {d[:3]: d for d in "monday tuesday wednesday thursday friday saturday sunday".split()}
# Demonym endings: "Russia" / "Russian", "China" / "Chinese", "Israel" / "Israeli".
_DEMONYM_TAILS = ("", "n", "an", "ian", "ean", "ese", "i", "ish", "ic", "er", "s", "e", "a")


# -- names ------------------------------------------------------------------------------


YEAR = re.compile(r"^(1[89]|20)\d\d$")


def norm_words(text: str) -> list[str]:
    """Lower-cased words without accents, possessives, articles and dots in initials: how names compare."""
    return list(_cached_norm_words(text) if len(text) <= CACHED_CHARS else _norm_words(text))


def _norm_words(text: str) -> tuple[str, ...]:
    # Accents aside: one outlet writes "Hernández", another "Hernandez".
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    words = [w.lower().removesuffix("'s").removesuffix("’s") for w in re.findall(r"[\w’'.-]+", text)]
    # Dotted initials are one word: "U.S." / "US", "D.C." / "DC".
    words = [w.replace(".", "") if _INITIALS.fullmatch(w) else w for w in words]
    return tuple(w.strip(".-'’") for w in words if w.strip(".-'’") and w not in {"the", "a", "an"})


_cached_norm_words = lru_cache(maxsize=32768)(_norm_words)


_INITIALS = re.compile(r"(?:[a-z]\.){2,}|(?:[a-z]\.)+[a-z]")


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n < 4:
        return False
    return a[n:] in _DEMONYM_TAILS and b[n:] in _DEMONYM_TAILS


def same_name(a: str, b: str) -> bool:
    """Aliases: one name's words all within the other's ("Trump" / "Donald Trump"), demonyms allowed."""
    wa, wb = norm_words(a), norm_words(b)
    if not wa or not wb:
        return False
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    return all(any(_same_word(s, t) for t in long_) for s in short)


def _memo(sent: Sent, key: str, read: Callable[[Sent], list[Any]]) -> tuple[Any, ...]:
    """``read(sent)``, computed once per sentence and kept with it (``Sent.memo``)."""
    if key not in sent.memo:
        sent.memo[key] = tuple(read(sent))
    return sent.memo[key]  # type: ignore[no-any-return]


def names_of(sent: Sent) -> list[str]:
    """Names in a sentence: its named entities, and proper nouns the tagger missed."""
    return list(_memo(sent, "names", _names_of))


def _names_of(sent: Sent) -> list[str]:
    names = [e.text for e in sent.ents if e.label in NAME_TYPES]
    in_ent = {i for e in sent.ents for i in range(e.first, e.last + 1)}
    for i, t in enumerate(sent.toks):
        if t.pos == "PROPN" and i not in in_ent and i > 0 and t.text[:1].isupper():
            names.append(t.text)
    return names


def named_in(name: str, sents: Sequence[Sent]) -> bool:
    for s in sents:
        if any(same_name(name, other) for other in names_of(s)):
            return True
        # A proper noun that opens the sentence ("Truss won ...") names too, though names_of skips it.
        if s.toks and s.toks[0].pos == "PROPN" and same_name(name, s.toks[0].text):
            return True
        if " ".join(norm_words(name)) in " ".join(norm_words(s.text)):
            return True
    return False


# -- quantities -------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str
    qualifier: str  # lower | upper | approx | ""
    text: str
    ordinal: bool = False
    index: int = 0  # token index in its sentence


# Two values this close (relative) are one value written twice ("$4.17" / "$4.170") ...
SAME_VALUE = 0.005
# ... or this close when either is approximate ("about", "nearly"): "nearly $25 billion" / "$24.6 billion".
APPROX = 0.05


def same_amount(a: Quantity, b: Quantity, exact: float = SAME_VALUE) -> bool:
    """One amount: equal within ``exact`` (relative), or within ``APPROX`` when either is approximate."""
    tolerance = APPROX if "approx" in {a.qualifier, b.qualifier} else exact
    return abs(a.value - b.value) <= tolerance * max(abs(a.value), abs(b.value), 1e-9)


def _word_number(words: list[str]) -> float | None:
    total, current, seen = 0.0, 0.0, False
    for w in words:
        w = w.lower().replace(",", "")
        parts = w.split("-")
        if all(p in _UNITS or p in _TEENS or p in _TENS for p in parts) and parts:
            current += sum(_UNITS.get(p, 0) + _TEENS.get(p, 0) + _TENS.get(p, 0) for p in parts)
            seen = True
        elif w in _SCALES:
            current = (current or 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total, current = total + current, 0.0
            seen = True
        elif re.fullmatch(r"\d+(\.\d+)?", w):
            current += float(w)
            seen = True
        elif w in {"and", "a"}:
            continue
        else:
            return None
    return total + current if seen else None


def _qualifier(text: str) -> str:
    low = " " + text.lower() + " "
    for label, words in (("upper", _UPPER), ("lower", _LOWER), ("approx", _APPROX)):
        if any(f" {w} " in low for w in words):
            return label
    return ""


def quantities(sent: Sent) -> list[Quantity]:
    """Numbers in a sentence with the noun they count, money and percentages as units."""
    return list(_memo(sent, "quantities", _quantities))


def _quantities(sent: Sent) -> list[Quantity]:
    out: list[Quantity] = []
    toks = sent.toks
    used: set[int] = set()
    for i, t in enumerate(toks):
        ordinal = (t.lemma in _ORDINALS and t.pos in {"ADJ", "NUM"}) or bool(
            re.fullmatch(r"\d+(st|nd|rd|th)", t.text.lower())
        )
        if i in used or not (t.pos == "NUM" or re.fullmatch(r"[\d.,]*\d", t.text) or ordinal):
            continue
        if t.ent in {"DATE", "TIME"} and not ordinal and _calendar(sent, i, t.text):
            continue  # a calendar date ("September 8"); a duration ("nine years", "30-day") is a quantity
        # A run of number words ("two hundred", "6 billion", "thirty-five", "half a million").
        j = i
        while j + 1 < len(toks) and (
            toks[j + 1].pos == "NUM"
            or toks[j + 1].text.lower() in _SCALES
            or (toks[j + 1].text == "-" and j + 2 < len(toks) and toks[j + 2].pos == "NUM")
        ):
            j += 1
        used.update(range(i, j + 1))
        words = [x.text for x in toks[i : j + 1] if x.text != "-"]
        if i > 0 and toks[i - 1].text.lower() == "half":
            words = ["0.5", *words]
        elif i > 1 and toks[i - 1].text.lower() == "a" and toks[i - 2].text.lower() == "half":
            words = ["0.5", *words]  # "half a million"
        if ordinal:
            value: float | None = (
                float(_ORDINALS.get(t.lemma, 0) or int(re.sub(r"\D", "", t.text) or 0)) or None
            )
        else:
            raw = " ".join(words)
            match = re.match(r"^(\d[\d,]*(?:\.\d+)?)(?:-(\w+))?", raw.replace(" ", ""))
            value = None
            if words[0] == "0.5" and len(words) > 1:
                rest = _word_number([w for w in words[1:] if w.lower() != "a"])
                value = 0.5 * rest if rest is not None else None
            elif match and len(words) == 1:
                value = float(match.group(1).replace(",", ""))
                # A scale written as a letter on the number: "$24.6B", "$3.5bn", "40K".
                scale = re.fullmatch(r"[\d.,]+(k|m|mn|b|bn|t|tn)", words[0].lower())
                value *= _LETTER_SCALES[scale.group(1)] if scale else 1
            else:
                value = _word_number(re.sub(r"(\d)-(?=[a-z])", r"\1 ", raw).split())
        if value is None:
            continue
        if re.fullmatch(r"(19|20)\d\d", words[0]) and t.ent == "DATE":
            continue  # a year: handled by the date check
        unit = unit_of(sent, i, j)
        if any(x.text.lower() == "old" for x in toks[j + 1 : j + 5]) and unit in {
            "year",
            "month",
            "week",
            "day",
        }:
            unit = "age"  # "the 37-year-old superstar" is no span of 37 years
        before = " ".join(x.text for x in toks[max(0, i - 3) : i])
        out.append(
            Quantity(value, unit, _qualifier(before + " " + " ".join(words)), " ".join(words), ordinal, i)
        )
    return out


def _calendar(sent: Sent, i: int, text: str) -> bool:
    """Token ``i`` (in a DATE or TIME entity) is part of a calendar date, not a duration: a word of
    a date, or a day number beside its month ("September 8")."""
    entity = [e for e in sent.ents if e.first <= i <= e.last]
    if not re.fullmatch(r"\d+(-\w+)?", text):
        return not any(not entity_dates(e) for e in entity)
    return re.fullmatch(r"\d{1,2}", text) is not None and any(
        any(a.startswith("month:") for a in entity_dates(e)) for e in entity
    )


def unit_of(sent: Sent, first: int, last: int) -> str:
    toks = sent.toks
    if toks[first].ent == "MONEY" or (first > 0 and toks[first - 1].text in {"$", "€", "£", "¥"}):
        return "money"
    after = " ".join(x.text for x in toks[last + 1 : last + 3]).lower()
    if after.startswith(("%", "percent", "per cent")):
        return "%"
    # The noun the number counts: its head when it modifies a noun ("35 people", "30-hour").
    for k in (last, first):
        head = toks[k].head
        if (
            toks[k].dep in {"nummod", "amod", "compound", "npadvmod", "quantmod"}
            and head > last
            and toks[head].pos == "NOUN"
        ):
            return toks[head].lemma
    for k in range(last + 1, min(len(toks), last + 3)):
        if toks[k].pos == "NOUN":
            return toks[k].lemma
        if toks[k].text not in {"-"}:
            break
    return ""


# Units of the measurable dimensions (closed classes of English): asked a speed, "7 million miles" is
# a distance and "55 feet" a length, not answers; "14,000 mph" and "13,421 miles per hour" are.
_LENGTHS = frozenset(
    {"foot", "feet", "ft", "inch", "yard", "mile", "mi", "meter", "metre", "kilometer", "kilometre", "km"}
    | {"centimeter", "centimetre", "cm", "millimeter", "mm"}
)
_DIMENSION_UNITS = {
    "speed": frozenset({"mph", "kph", "knot", "km/h"}),
    "weight": frozenset({"pound", "lb", "ton", "tonne", "kilogram", "kg", "gram", "ounce"}),
    "temperature": frozenset({"degree", "fahrenheit", "celsius"}),
    # Not "length": a ceasefire's length is a duration.
    **dict.fromkeys(("height", "distance", "depth", "width"), _LENGTHS),
}
_TIME_UNITS = frozenset({"hour", "second", "minute", "day", "h", "hr"})


def other_unit(asked: str, unit: str) -> bool:
    """Two units of one dimension that differ: asked how many miles, "520 feet" is no answer."""
    return asked != unit and any(asked in units and unit in units for units in _DIMENSION_UNITS.values())


def has_units(dimension: str) -> bool:
    """Whether ``dimension`` ("speed", "weight") has a closed set of units (:func:`fits_dimension`)."""
    return dimension in _DIMENSION_UNITS


def fits_dimension(dimension: str, sent: Sent, last: int, unit: str) -> bool:
    """Whether a number ending at token ``last``, counting ``unit``, measures ``dimension``.

    True for a dimension without a closed set of units (a size, a population, a magnitude).
    """
    units = _DIMENSION_UNITS.get(dimension)
    if units is None:
        return True
    after = [t.lemma.lower() for t in sent.toks[last + 1 : last + 5]]
    rate = any(
        w == "per" or (w in {"a", "an"} and nxt in _TIME_UNITS)
        for w, nxt in zip(after, [*after[1:], ""], strict=True)
    )
    if dimension == "speed":
        return unit in units or (unit in _LENGTHS and rate)
    return unit in units and not rate


def governor(sent: Sent, i: int) -> tuple[str, str]:
    """The verb a token hangs from, and that verb's (or an enclosing verb's) named subject."""
    verb, subject = "", ""
    k, hops = i, 0
    while hops < 6:
        head = sent.toks[k].head
        if head == k:
            break
        k, hops = head, hops + 1
        if sent.toks[k].pos in {"VERB", "AUX"}:
            verb = verb or sent.toks[k].lemma
            for c in sent.children(k):
                if sent.toks[c].dep in {"nsubj", "nsubjpass"} and is_name(sent, span_key(sent, c)):
                    return verb, span_key(sent, c)
    return verb, subject


def dates(sent: Sent) -> set[str]:
    """Date atoms ("month:4", "day:13", "year:2022", "weekday:mon") of the sentence's DATE entities."""
    return set().union(*(entity_dates(e) for e in sent.ents))


def entity_dates(ent: Ent) -> set[str]:
    """Date atoms of one DATE or TIME entity."""
    if ent.label not in {"DATE", "TIME"}:
        return set()
    atoms: set[str] = set()
    words = re.findall(r"[A-Za-z]+|\d+", ent.text)
    has_month = any(w.lower() in MONTHS for w in words)
    for w in words:
        low = w.lower()
        if low in MONTHS and (len(low) > 3 or w[0].isupper()):
            atoms.add(f"month:{MONTHS[low]}")
        elif low[:3] in WEEKDAYS and low in {WEEKDAYS[low[:3]], low[:3]}:
            atoms.add(f"weekday:{low[:3]}")
        elif re.fullmatch(r"(1[6-9]|20)\d\d", w):
            atoms.add(f"year:{w}")
        elif re.fullmatch(r"\d{1,2}", w) and has_month:
            atoms.add(f"day:{int(w)}")
    return atoms


def span_key(sent: Sent, i: int) -> str:
    """The name a token stands for: its entity's text, else its own text."""
    for e in sent.ents:
        if e.first <= i <= e.last:
            return e.text
    return sent.toks[i].text


def is_name(sent: Sent, text: str) -> bool:
    return any(e.text == text and e.label in NAME_TYPES for e in sent.ents) or any(
        t.text == text and t.pos == "PROPN" for t in sent.toks
    )
