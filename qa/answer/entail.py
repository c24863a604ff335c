"""Does an evidence sentence entail a claim?  Linguistic checks over spaCy annotations.

:func:`judge` compares an annotated claim with an annotated evidence span (one
sentence or two adjacent ones) and answers *entailed*, *contradicted* or *not
stated*, with the checks it ran and why.  The checks, in order:

``entities``
    every name in the claim (a person, place, organisation, nationality, event...)
    is named in the evidence or in its context (the article's title), allowing
    aliases ("Trump" / "President Donald Trump") and demonyms ("Russian" /
    "Russia").  A name the evidence lacks: *not stated*.
``numbers``
    every quantity in the claim (cardinals, money, percentages, ordinals, with
    the noun they count: "30-hour" is 30 *hour*) appears in the evidence with
    the same value and unit and a compatible qualifier ("at least 35" is not
    "fewer than 35").  Same unit with another value, or the same value with
    another unit: *contradicted*; absent: *not stated*.
``dates``
    the claim's months, days, years and weekdays agree with the evidence's.
``polarity``
    a predicate negated in one and asserted in the other ("not open" / "open",
    "no immediate plans" / "plans", "without conditions" / "with conditions"):
    *contradicted*.  A claim that negates what the evidence never mentions:
    *not stated*.
``roles``
    who did what to whom: a name that is the subject of a verb in the claim and
    its object in the evidence (or the reverse), or a name modifying a noun in
    the claim where the evidence has another name on the same noun ("Russian
    officers" / "Ukrainian officers"): *contradicted*.
``predicates``
    a verb or adjective of the claim that the evidence does not use is compared
    with the evidence word in the same syntactic slot by substituting it into the
    evidence sentence and embedding both: a synonym barely moves the sentence
    ("halt" / "stop"), an antonym or a stronger claim moves it far ("rejected" /
    "agreed"): *contradicted* below ``substitution_min``.
``support``
    the claim's overall support (lexical overlap and embedding cosine, as
    computed by the verifier) reaches the threshold: otherwise *not stated*.

The checks use spaCy's lemmas, part-of-speech tags, dependency labels and
entity types; the only word lists are closed grammatical classes (negators,
numeral words, quantity qualifiers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qa.models.nlp import NAME_TYPES, Ent, Sent

ENTAILED, CONTRADICTED, NOT_STATED = "entailed", "contradicted", "not_stated"

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
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()
    )
}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_WEEKDAYS = {d[:3]: d for d in "monday tuesday wednesday thursday friday saturday sunday".split()}
# Demonym endings: "Russia" / "Russian", "China" / "Chinese", "Israel" / "Israeli".
_DEMONYM_TAILS = ("", "n", "an", "ian", "ean", "ese", "i", "ish", "ic", "er", "s", "e", "a")
_LIGHT_VERBS = frozenset({"be", "have", "do", "get", "make", "take", "say", "go"})
_SUBJ = frozenset({"nsubj", "csubj", "expl"})
_OBJ = frozenset({"dobj", "obj", "nsubjpass", "attr", "oprd", "dative"})
_MOD = frozenset({"amod", "compound", "poss", "nmod", "npadvmod"})


@dataclass
class Judgement:
    """The verdict on one claim against one evidence span, and the checks behind it."""

    label: str  # entailed | contradicted | not_stated
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def entailed(self) -> bool:
        return self.label == ENTAILED

    def fail(self, check: str, reason: str, label: str) -> None:
        self.checks[check] = False
        self.reasons.append(reason)
        if label == CONTRADICTED or self.label == ENTAILED:
            self.label = label if self.label != CONTRADICTED else CONTRADICTED


# -- names ------------------------------------------------------------------------------


def _norm_words(text: str) -> list[str]:
    words = [w.lower().removesuffix("'s").removesuffix("’s") for w in re.findall(r"[\w’'.-]+", text)]
    return [w.strip(".-'’") for w in words if w.strip(".-'’") and w not in {"the", "a", "an"}]


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
    wa, wb = _norm_words(a), _norm_words(b)
    if not wa or not wb:
        return False
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    return all(any(_same_word(s, t) for t in long_) for s in short)


def _names(sent: Sent) -> list[str]:
    """Names in a sentence: its named entities, and proper nouns the tagger missed."""
    names = [e.text for e in sent.ents if e.label in NAME_TYPES]
    in_ent = {i for e in sent.ents for i in range(e.first, e.last + 1)}
    for i, t in enumerate(sent.toks):
        if t.pos == "PROPN" and i not in in_ent and i > 0 and t.text[:1].isupper():
            names.append(t.text)
    return names


def _named_in(name: str, sents: Sequence[Sent]) -> bool:
    for s in sents:
        if any(same_name(name, other) for other in _names(s)):
            return True
        if " ".join(_norm_words(name)) in " ".join(_norm_words(s.text)):
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
    out: list[Quantity] = []
    toks = sent.toks
    used: set[int] = set()
    for i, t in enumerate(toks):
        ordinal = (t.lemma in _ORDINALS and t.pos in {"ADJ", "NUM"}) or bool(
            re.fullmatch(r"\d+(st|nd|rd|th)", t.text.lower())
        )
        if i in used or not (t.pos == "NUM" or re.fullmatch(r"[\d.,]*\d", t.text) or ordinal):
            continue
        if t.ent in {"DATE", "TIME"} and not ordinal and not re.fullmatch(r"\d+(-\w+)?", t.text):
            continue
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
            else:
                value = _word_number(re.sub(r"(\d)-(?=[a-z])", r"\1 ", raw).split())
        if value is None:
            continue
        if re.fullmatch(r"(19|20)\d\d", words[0]) and t.ent == "DATE":
            continue  # a year: handled by the date check
        unit = _unit(sent, i, j)
        before = " ".join(x.text for x in toks[max(0, i - 3) : i])
        out.append(
            Quantity(value, unit, _qualifier(before + " " + " ".join(words)), " ".join(words), ordinal, i)
        )
    return out


def _unit(sent: Sent, first: int, last: int) -> str:
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
                if sent.toks[c].dep in {"nsubj", "nsubjpass"} and _is_name(sent, _span_key(sent, c)):
                    return verb, _span_key(sent, c)
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
    has_month = any(w.lower() in _MONTHS for w in words)
    for w in words:
        low = w.lower()
        if low in _MONTHS and (len(low) > 3 or w[0].isupper()):
            atoms.add(f"month:{_MONTHS[low]}")
        elif low[:3] in _WEEKDAYS and low in {_WEEKDAYS[low[:3]], low[:3]}:
            atoms.add(f"weekday:{low[:3]}")
        elif re.fullmatch(r"(1[6-9]|20)\d\d", w):
            atoms.add(f"year:{w}")
        elif re.fullmatch(r"\d{1,2}", w) and has_month:
            atoms.add(f"day:{int(w)}")
    return atoms


def _span_key(sent: Sent, i: int) -> str:
    """The name a token stands for: its entity's text, else its own text."""
    for e in sent.ents:
        if e.first <= i <= e.last:
            return e.text
    return sent.toks[i].text


def _arguments(sent: Sent) -> dict[str, tuple[set[str], set[str]]]:
    """verb lemma -> (names in subject position, names in object position); passives turned active."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    toks = sent.toks
    for i, t in enumerate(toks):
        if t.pos not in {"VERB", "AUX"}:
            continue
        subj: set[str] = set()
        obj: set[str] = set()
        for c in sent.children(i):
            dep = toks[c].dep
            if toks[c].pos not in {"PROPN", "NOUN"} and not toks[c].ent:
                continue
            if dep in _SUBJ:
                subj.add(_span_key(sent, c))
            elif dep in _OBJ:
                obj.add(_span_key(sent, c))
            elif dep == "agent":
                subj.update(_span_key(sent, g) for g in sent.children(c) if toks[g].dep == "pobj")
        if subj or obj:
            s, o = out.setdefault(t.lemma, (set(), set()))
            s.update(subj)
            o.update(obj)
    return out


def _modifiers(sent: Sent) -> dict[str, set[str]]:
    """noun lemma -> names modifying it ("Ukrainian military officers" -> officer: {Ukrainian})."""
    out: dict[str, set[str]] = {}
    toks = sent.toks
    for i, t in enumerate(toks):
        if t.dep in _MOD and t.ent in NAME_TYPES and toks[t.head].pos == "NOUN":
            out.setdefault(toks[t.head].lemma, set()).add(_span_key(sent, i))
    return out


def _any_same(names: set[str], others: set[str]) -> bool:
    return any(same_name(a, b) for a in names for b in others)


# -- the judgement ----------------------------------------------------------------------


def _content(t_pos: str) -> bool:
    return t_pos in {"VERB", "ADJ", "NOUN", "ADV", "PROPN", "NUM"}


def judge(
    claim: Sent,
    evidence: Sent,
    *,
    context: Sequence[Sent] = (),
    support: float = 1.0,
    min_support: float = 0.65,
    similarity: Callable[[str, str], float] | None = None,
    substitution_min: float = 0.9,
) -> Judgement:
    """Entailed, contradicted or not stated; see the module docstring.

    ``context`` (the sentence before, the article's title) may name who a
    pronoun stands for; predicates, numbers and polarity are judged on
    ``evidence`` alone.  ``support`` is the verifier's lexical+cosine score of
    the pair; ``similarity(a, b)`` embeds two texts and returns their cosine
    (for the substitution test; skipped when None).
    """
    result = Judgement(ENTAILED)
    _check_names(claim, [evidence, *context], result)
    _check_numbers(claim, evidence, result)
    _check_dates(claim, evidence, result)
    aligned = _alignment(claim, evidence)
    _check_polarity(claim, evidence, aligned, result)
    _check_roles(claim, evidence, aligned, result)
    if similarity is not None:
        _check_predicates(claim, evidence, aligned, similarity, substitution_min, result)
    result.checks["support"] = support >= min_support
    if support < min_support:
        result.fail("support", f"support {support:.2f} is below {min_support:.2f}", NOT_STATED)
    return result


def _check_names(claim: Sent, scope: Sequence[Sent], result: Judgement) -> None:
    missing = [n for n in dict.fromkeys(_names(claim)) if not _named_in(n, scope)]
    result.checks["entities"] = not missing
    for name in missing:
        result.fail("entities", f"'{name}' is not named in the evidence", NOT_STATED)


def _check_numbers(claim: Sent, evidence: Sent, result: Judgement) -> None:
    have = quantities(evidence)
    ok = True
    for q in quantities(claim):
        same_value = [
            h
            for h in have
            if h.ordinal == q.ordinal and abs(h.value - q.value) <= 1e-6 * max(1.0, abs(q.value))
        ]
        same_unit = [
            h
            for h in have
            if h.ordinal == q.ordinal and q.unit and h.unit == q.unit and h.qualifier != "approx"
        ]
        if same_value:
            # Another unit for the same value contradicts only when the claim's unit is nowhere in
            # the evidence ("30-day" against "30-hour"); "money" matches any currency noun.
            if (
                q.unit
                and q.unit != "money"
                and q.unit not in evidence.lemmas
                and all(h.unit and h.unit not in {q.unit, "money"} for h in same_value)
            ):
                h = same_value[0]
                result.fail(
                    "numbers", f"'{q.text} {q.unit}' but the evidence has '{h.text} {h.unit}'", CONTRADICTED
                )
                ok = False
            elif any({q.qualifier, h.qualifier} == {"lower", "upper"} for h in same_value):
                result.fail("numbers", f"'{q.text}' is qualified the other way in the evidence", CONTRADICTED)
                ok = False
            else:
                claim_verb, claim_subject = governor(claim, q.index)
                governed = [governor(evidence, h.index) for h in same_value]
                subjects = {subject for verb, subject in governed if verb == claim_verb}
                if (
                    claim_subject
                    and subjects
                    and "" not in subjects
                    and not _any_same({claim_subject}, subjects)
                ):
                    result.fail(
                        "roles",
                        f"'{q.text}' belongs to {', '.join(sorted(subjects))} in the evidence",
                        CONTRADICTED,
                    )
                    ok = False
        elif same_unit:
            result.fail(
                "numbers", f"'{q.text} {q.unit}' but the evidence says '{same_unit[0].text}'", CONTRADICTED
            )
            ok = False
        elif q.ordinal or q.text.lower() == "one":
            continue  # "first", "last", "one of": rarely the claim's point, and often paraphrased
        else:
            result.fail("numbers", f"the number '{q.text}' is not in the evidence", NOT_STATED)
            ok = False
    result.checks["numbers"] = ok


def _check_dates(claim: Sent, evidence: Sent, result: Judgement) -> None:
    claim_dates = dates(claim)
    if not claim_dates:
        return
    evidence_dates = dates(evidence)
    ok = True
    for atom in sorted(claim_dates):
        kind = atom.split(":")[0]
        if atom not in evidence_dates:
            ok = False
            if any(a.startswith(kind + ":") for a in evidence_dates):
                result.fail("dates", f"the date '{atom}' differs from the evidence's", CONTRADICTED)
            else:
                result.fail("dates", f"the date '{atom}' is not in the evidence", NOT_STATED)
            continue
        # The date must belong to the same actor: "Aziz ... in 1985; Islam ... in 1987".
        claim_gov = [governor(claim, e.first) for e in claim.ents if atom in entity_dates(e)]
        verbs = {verb for verb, _ in claim_gov}
        claim_subjects = {subject for _, subject in claim_gov if subject}
        evidence_subjects = {
            subject
            for verb, subject in (
                governor(evidence, e.first) for e in evidence.ents if atom in entity_dates(e)
            )
            if verb in verbs or not verb
        }
        if (
            claim_subjects
            and evidence_subjects
            and "" not in evidence_subjects
            and not _any_same(claim_subjects, evidence_subjects)
        ):
            ok = False
            result.fail(
                "roles",
                f"'{atom}' belongs to {', '.join(sorted(evidence_subjects))} in the evidence",
                CONTRADICTED,
            )
    result.checks["dates"] = ok


def _alignment(claim: Sent, evidence: Sent) -> dict[int, int]:
    """Claim content-word index -> evidence index: the same lemma, else the word in the same slot."""
    out: dict[int, int] = {}
    by_lemma: dict[str, int] = {}
    for j, e in enumerate(evidence.toks):
        by_lemma.setdefault(e.lemma, j)
    for i, t in enumerate(claim.toks):
        if t.pos not in {"VERB", "ADJ", "NOUN", "AUX"}:
            continue
        if t.lemma in by_lemma:
            out[i] = by_lemma[t.lemma]
        elif t.pos in {"VERB", "ADJ"}:
            j = _aligned(claim, i, evidence)
            if j is not None:
                out[i] = j
    return out


def clause_polarity(sent: Sent) -> dict[int, bool]:
    """Predicate index -> negated?  A negator on the predicate, its auxiliary, or its arguments'
    determiners ("did not award", "is not open", "No compensation was awarded", "neither the trial")."""
    toks = sent.toks
    out: dict[int, bool] = {}
    for i, t in enumerate(toks):
        if t.pos not in {"VERB", "ADJ", "AUX"} and t.dep not in {"attr", "acomp"}:
            continue
        neg = False
        for c in sent.children(i):
            low = toks[c].text.lower()
            if toks[c].dep == "neg" or low in {"never", "neither"}:
                neg = True
            elif toks[c].dep in {"nsubj", "nsubjpass", "dobj", "attr", "expl"}:
                if any(toks[g].text.lower() in {"no", "neither", "none"} for g in sent.children(c)):
                    neg = True
                if low in {"nothing", "nobody", "none", "neither"}:
                    neg = True
        # "is not open": the copula carries the negation for its complement.
        head = t.head
        if t.dep in {"acomp", "attr", "xcomp"} and head != i:
            neg = neg or any(toks[c].dep == "neg" for c in sent.children(head))
        out[i] = neg
    return out


def _check_polarity(claim: Sent, evidence: Sent, aligned: dict[int, int], result: Judgement) -> None:
    claim_pol, evidence_pol = clause_polarity(claim), clause_polarity(evidence)
    any_evidence_neg = any(evidence_pol.values())
    ok = True
    for i, negative in claim_pol.items():
        t = claim.toks[i]
        if t.lemma in {"be", "have", "do"} or t.pos == "AUX":
            continue
        j = aligned.get(i)
        if j is None or j not in evidence_pol:
            if negative and not any_evidence_neg:
                ok = False
                result.fail(
                    "polarity", f"the claim negates '{t.text}', which the evidence does not", NOT_STATED
                )
            continue
        if negative != evidence_pol[j]:
            ok = False
            e = evidence.toks[j]
            which = "claim" if negative else "evidence"
            result.fail(
                "polarity",
                f"the {which} negates '{t.text if negative else e.text}', the other asserts it",
                CONTRADICTED,
            )
    # "without any conditions" against "with a series of conditions".
    claim_without = {
        claim.toks[k].lemma
        for k, t in enumerate(claim.toks)
        if t.text.lower() == "without"
        for k in sent_children(claim, k)
    }
    if claim_without and not any_evidence_neg:
        clash = claim_without & {t.lemma for t in evidence.toks if t.pos == "NOUN"}
        if clash and "without" not in {t.text.lower() for t in evidence.toks}:
            ok = False
            result.fail(
                "polarity",
                f"the claim says without '{sorted(clash)[0]}', the evidence says with",
                CONTRADICTED,
            )
    result.checks["polarity"] = ok


def sent_children(sent: Sent, i: int) -> list[int]:
    """Children of a token, and their children (a preposition's object sits one level down)."""
    kids = sent.children(i)
    return kids + [g for k in kids for g in sent.children(k)]


def _check_roles(claim: Sent, evidence: Sent, aligned: dict[int, int], result: Judgement) -> None:
    ok = True
    claim_args, evidence_args = _arguments(claim), _arguments(evidence)
    for i, t in enumerate(claim.toks):
        if t.lemma not in claim_args or t.lemma in _LIGHT_VERBS or i not in aligned:
            continue
        subj, obj = claim_args[t.lemma]
        e_lemma = evidence.toks[aligned[i]].lemma
        if e_lemma not in evidence_args:
            continue
        e_subj, e_obj = evidence_args[e_lemma]
        if e_lemma != t.lemma and not (obj and e_obj and _any_same(obj, e_obj)):
            continue  # a different verb in the same slot: too loose to judge who did it
        swapped = (subj and e_obj and _any_same(subj, e_obj) and not _any_same(subj, e_subj)) or (
            obj and e_subj and _any_same(obj, e_subj) and not _any_same(obj, e_obj)
        )
        other_agent = (
            subj
            and e_subj
            and not _any_same(subj, e_subj)
            and all(_is_name(claim, x) for x in subj)
            and all(_is_name(evidence, x) for x in e_subj)
        )
        if swapped:
            ok = False
            result.fail("roles", f"who did what to whom differs for '{t.text}'", CONTRADICTED)
        elif other_agent:
            ok = False
            result.fail(
                "roles",
                f"the evidence says {', '.join(sorted(e_subj))} did '{e_lemma}', not {', '.join(sorted(subj))}",
                CONTRADICTED,
            )
    claim_mods, evidence_mods = _modifiers(claim), _modifiers(evidence)
    for noun, names in claim_mods.items():
        others = evidence_mods.get(noun)
        if others and not _any_same(names, others):
            ok = False
            result.fail("roles", f"'{noun}' is {', '.join(sorted(others))} in the evidence", CONTRADICTED)
    result.checks["roles"] = ok


def _window(sent: Sent, j: int, replacement: str | None = None, width: int = 6) -> str:
    toks = sent.toks
    a, b = max(0, j - width), min(len(toks) - 1, j + width)
    pieces = []
    for k in range(a, b + 1):
        pieces.append(replacement if (k == j and replacement is not None) else toks[k].text)
    return " ".join(pieces)


def _check_predicates(
    claim: Sent,
    evidence: Sent,
    aligned: dict[int, int],
    similarity: Callable[[str, str], float],
    minimum: float,
    result: Judgement,
) -> None:
    ok = True
    for i, t in enumerate(claim.toks):
        if i not in aligned or t.pos not in {"VERB", "ADJ"} or t.lemma in _LIGHT_VERBS:
            continue
        j = aligned[i]
        e = evidence.toks[j]
        if e.lemma == t.lemma:
            continue
        # A synonym barely moves the words around it; an antonym or a stronger word moves them far.
        score = similarity(_window(evidence, j), _window(evidence, j, t.text))
        if score < minimum:
            ok = False
            result.fail(
                "predicates",
                f"'{t.text}' does not mean '{e.text}' here (substitution {score:.2f})",
                CONTRADICTED,
            )
    result.checks["predicates"] = ok


def _is_name(sent: Sent, text: str) -> bool:
    return any(e.text == text and e.label in NAME_TYPES for e in sent.ents) or any(
        t.text == text and t.pos == "PROPN" for t in sent.toks
    )


def _aligned(claim: Sent, i: int, evidence: Sent) -> int | None:
    """The evidence token in the claim token's syntactic slot: same part of speech, shared neighbours."""
    t = claim.toks[i]
    near = {claim.toks[k].lemma for k in sent_children(claim, i) if _content(claim.toks[k].pos)}
    if t.head != i:
        near.add(claim.toks[t.head].lemma)
    near -= _LIGHT_VERBS
    best, best_overlap = None, 0
    for j, e in enumerate(evidence.toks):
        if e.pos != t.pos:
            continue
        around = {
            evidence.toks[k].lemma for k in sent_children(evidence, j) if _content(evidence.toks[k].pos)
        }
        if e.head != j:
            around.add(evidence.toks[e.head].lemma)
        overlap = len(near & around)
        if overlap > best_overlap:
            best, best_overlap = j, overlap
    return best if best_overlap >= 1 else None
