"""Who did what to whom in a sentence, from its spaCy dependencies; how a claim's words align with evidence.

The structure :mod:`qa.answer.entail` compares: each verb's subject and object
names (passives turned active), the names modifying each noun, the polarity of
each clause ("not", "no", "without"), and the evidence token in the slot of a
claim's token (same part of speech, shared neighbours).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.answer.facts import same_name, span_key
from qa.models.nlp import NAME_TYPES, Ent, Sent, Tok

LIGHT_VERBS = frozenset({"be", "have", "do", "get", "make", "take", "say", "go"})
_SUBJ = frozenset({"nsubj", "csubj", "expl"})
_OBJ = frozenset({"dobj", "obj", "nsubjpass", "attr", "oprd", "dative"})
_MOD = frozenset({"amod", "compound", "poss", "nmod", "npadvmod"})
_DENY = frozenset({"no", "neither", "none"})


def is_content(t_pos: str) -> bool:
    return t_pos in {"VERB", "ADJ", "NOUN", "ADV", "PROPN", "NUM"}


def arguments(sent: Sent) -> dict[str, tuple[set[str], set[str]]]:
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
                subj.add(span_key(sent, c))
            elif dep in _OBJ:
                obj.add(span_key(sent, c))
            elif dep == "agent":
                subj.update(span_key(sent, g) for g in sent.children(c) if toks[g].dep == "pobj")
        if subj or obj:
            s, o = out.setdefault(t.lemma, (set(), set()))
            s.update(subj)
            o.update(obj)
    return out


def modifiers(sent: Sent) -> dict[str, set[str]]:
    """noun lemma -> names modifying it ("Ukrainian military officers" -> officer: {Ukrainian})."""
    out: dict[str, set[str]] = {}
    toks = sent.toks
    for i, t in enumerate(toks):
        if t.dep in _MOD and t.ent in NAME_TYPES and toks[t.head].pos == "NOUN":
            out.setdefault(toks[t.head].lemma, set()).add(span_key(sent, i))
    return out


def any_same(names: set[str], others: set[str]) -> bool:
    return any(same_name(a, b) for a in names for b in others)


def alignment(claim: Sent, evidence: Sent) -> dict[int, int]:
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
    determiners ("did not award", "is not open", "No compensation was awarded", "neither the trial"),
    a negated adverbial ("At no time was it compromised"), "yet to" ("has yet to come forward"), and a
    participle on a negated noun ("no points offered")."""
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
                if _says_no(sent, c):
                    neg = True
                if low in {"nothing", "nobody", "none", "neither"}:
                    neg = True
            elif toks[c].dep == "prep" and any(
                toks[g].dep == "pobj" and _says_no(sent, g) for g in sent.children(c)
            ):
                neg = True  # "At no time was ...", "in no way"
        head = t.head
        # "is not open": the copula carries the negation for its complement.
        if t.dep in {"acomp", "attr", "xcomp"} and head != i:
            neg = neg or any(toks[c].dep == "neg" for c in sent.children(head))
        # "has yet to come forward": not (yet) done.
        if t.dep == "xcomp" and head != i and any(toks[c].lemma == "yet" for c in sent.children(head)):
            neg = True
        # "no world ranking points offered": the participle of a noun that is denied.
        if t.dep == "acl" and head != i and _says_no(sent, head):
            neg = True
        out[i] = neg
    return out


def _says_no(sent: Sent, i: int) -> bool:
    """A noun phrase denied by its determiner: "no injuries", "neither side", "none of them"."""
    return any(sent.toks[g].text.lower() in _DENY and not hyphened(sent, g) for g in sent.children(i))


def hyphened(sent: Sent, i: int) -> bool:
    """The token is the first part of a hyphenated word ("a *no*-hitter", "a *no*-fly zone")."""
    after = sent.toks[i + 1 : i + 2]
    return bool(after) and after[0].text == "-" and after[0].start == sent.toks[i].end


def predicate_of(sent: Sent, i: int) -> int | None:
    """The verb or adjective a noun is an argument of ("file an appeal": appeal -> file)."""
    k, hops = i, 0
    while hops < 3:
        head = sent.toks[k].head
        if head == k:
            return None
        k, hops = head, hops + 1
        if sent.toks[k].pos in {"VERB", "ADJ"}:
            return k
    return None


def sent_children(sent: Sent, i: int) -> list[int]:
    """Children of a token, and their children (a preposition's object sits one level down);
    conjuncts are other clauses or other arguments, not this one's."""
    kids = [k for k in sent.children(i) if sent.toks[k].dep not in {"conj", "cc"}]
    return kids + [g for k in kids for g in sent.children(k) if sent.toks[g].dep not in {"conj", "cc"}]


def window(sent: Sent, j: int, replacement: str | None = None, width: int = 6) -> str:
    toks = sent.toks
    a, b = max(0, j - width), min(len(toks) - 1, j + width)
    pieces = []
    for k in range(a, b + 1):
        pieces.append(replacement if (k == j and replacement is not None) else toks[k].text)
    return " ".join(pieces)


def _aligned(claim: Sent, i: int, evidence: Sent) -> int | None:
    """The evidence token in the claim token's syntactic slot: same part of speech, shared neighbours."""
    t = claim.toks[i]
    near = {claim.toks[k].lemma for k in sent_children(claim, i) if is_content(claim.toks[k].pos)}
    if t.head != i:
        near.add(claim.toks[t.head].lemma)
    near -= LIGHT_VERBS
    best, best_overlap = None, 0
    for j, e in enumerate(evidence.toks):
        if e.pos != t.pos:
            continue
        around = {
            evidence.toks[k].lemma for k in sent_children(evidence, j) if is_content(evidence.toks[k].pos)
        }
        if e.head != j:
            around.add(evidence.toks[e.head].lemma)
        overlap = len(near & around)
        if overlap > best_overlap:
            best, best_overlap = j, overlap
    return best if best_overlap >= 1 else None


# Auxiliaries of tense, voice and reported speech; any other auxiliary is a modal that hedges
# ("should", "could", "may", "might", "can", "must").
# Verbs of wanting: their clause is wished for, not reported as done (a closed class of English).
WISHES = frozenset({"hope", "want", "wish", "seek", "try", "attempt", "aim"})
_TENSE_AUX = frozenset(
    {"be", "have", "do", "will", "would", "shall", "to", "'ve", "'ll", "'d", "'s", "'re", "'m"}
)


def hedged(sent: Sent, i: int) -> bool:
    """A predicate under a modal, in its own clause or one it complements ("James should be on
    track to overtake"), or wished for ("hopes the collision shortens"): the sentence says it may
    happen, not that it did."""
    k = i
    for _ in range(4):
        if any(
            sent.toks[c].dep == "aux"
            and sent.toks[c].pos == "AUX"
            and sent.toks[c].lemma.replace("’", "'") not in _TENSE_AUX
            for c in sent.children(k)
        ):
            return True
        head = sent.toks[k].head
        wish = sent.toks[head]  # spaCy lemmatizes "hopes" as "hop": its text is read too
        if sent.toks[k].dep in {"xcomp", "ccomp"} and WISHES & {
            wish.lemma,
            wish.text.lower().removesuffix("s"),
        }:
            return True  # "NASA hopes the collision shortens its orbit": wished, not done
        if head == k or sent.toks[k].dep not in {"xcomp", "acl", "pobj", "prep"}:
            return False
        k = head
    return False


def descriptors(sent: Sent) -> dict[str, set[str]]:
    """Common-noun title -> the names it describes ("biologist Ian Easterling", "Ian Bartoszek,
    a project manager"): the noun a name is given as, outside the name itself."""
    out: dict[str, set[str]] = {}
    toks = sent.toks
    for i, t in enumerate(toks):
        if t.ent != "PERSON" or (t.dep == "compound" and toks[t.head].ent == "PERSON"):
            continue
        for c in sent.children(i):
            d = toks[c]
            if not d.ent and d.pos in {"NOUN", "PROPN"} and d.dep in {"compound", "appos"}:
                out.setdefault(d.text.lower(), set()).add(span_key(sent, i))
    return out


# Subordinators that make a clause a condition on its head ("might become a target *if* ...").
_CONDITIONS = frozenset({"if", "unless", "once", "when", "whenever"})


def conditions(sent: Sent) -> list[tuple[int, Ent]]:
    """Conditional clauses as ``(head verb index, span)``: an adverbial clause its subordinator marks
    as a condition ("if enemy military personnel were meeting there"), the span labelled CONDITION."""
    toks = sent.toks
    out: list[tuple[int, Ent]] = []
    for i, t in enumerate(toks):
        if t.dep != "advcl" or t.head == i:
            continue
        if not any(toks[c].dep == "mark" and toks[c].lemma.lower() in _CONDITIONS for c in sent.children(i)):
            continue
        span = sent.subtree(i)
        first, last = span[0], span[-1]
        while last > first and toks[last].pos == "PUNCT":
            last -= 1
        start, end = toks[first].start, toks[last].end
        out.append((t.head, Ent("CONDITION", sent.text[start:end], first, last, start, end)))
    return out


def near_noun(sent: Sent, ent: Ent, noun: str, similar: Callable[[str, str], float], window: int = 4) -> bool:
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


def apposed(sent: Sent, ent: Ent, noun: str) -> bool:
    """The noun ``noun`` and the entity are one phrase in the parse: an apposition either way
    ("Camp Hale, a training site"; "the site, Camp Hale") or the noun is the entity's head."""
    toks = sent.toks
    inside = range(ent.first, ent.last + 1)
    head = toks[ent.last].head
    return any(toks[k].lemma == noun and toks[k].head in inside for k in range(len(toks))) or (
        toks[head].lemma == noun and head not in inside
    )


# How close a word must be to the asked role to name it: MiniLM word vectors put synonyms above it
# ("spokesperson" / "spokesman" 0.87) and mere neighbours below ("lion" / "tiger" 0.66, "pilot" /
# "aircraft" 0.68, "suspect" / "police" 0.66, "manager" / "coach" 0.61).
ROLE_SIMILARITY = 0.7


def called(sent: Sent, ent: Ent, noun: str, similar: Callable[[str, str], float]) -> bool:
    """The sentence calls the entity a ``noun`` (or a synonym, ``ROLE_SIMILARITY``) in the parse: in
    its own phrase ("Kremlin spokesman Dmitry Peskov"), in apposition ("Baker, the manager"; "the
    owner, Joseph Chahayed") or through a copula ("Baker is the team's manager"). Nearness alone
    is not enough: in "Scott said the suspect had ...", Scott is not the suspect."""

    def synonym(word: str) -> bool:
        return word.lower() == noun or similar(noun, word) >= ROLE_SIMILARITY

    toks = sent.toks
    inside = range(ent.first, ent.last + 1)
    if any(toks[k].lemma.lower() == noun for k in inside):
        return True  # the name holds the noun: "Hurricane Ian", "the Kremlin spokesman"
    root = head_word(sent, ent)
    head = toks[root].head
    if any(
        toks[k].head in inside and k not in inside and toks[k].pos in _NOUNS and synonym(toks[k].lemma)
        for k in range(len(toks))
    ):
        return True
    if toks[root].dep == "appos" and toks[head].pos in _NOUNS and synonym(toks[head].lemma):
        return True
    # An apposition the parser missed: "Vin Scully, the voice of the Dodgers"; "the owner, Chahayed".
    after = (
        _phrase(toks, ent.last + 2, 1) if ent.last + 1 < len(toks) and toks[ent.last + 1].text == "," else []
    )
    ahead = _phrase(toks, ent.first - 2, -1) if ent.first > 1 and toks[ent.first - 1].text == "," else []
    if any(synonym(toks[k].lemma) for k in (*after, *ahead) if toks[k].pos in _NOUNS):
        return True
    if toks[root].dep == "appos" and toks[head].dep in {"nsubj", "attr"}:
        root, head = head, toks[head].head  # "his wife, Camilla, becomes the Queen Consort"
    if toks[root].dep not in {"nsubj", "attr"} or toks[head].lemma not in {"be", "become", "remain"}:
        return False
    return any(
        k != root and toks[k].dep in {"nsubj", "attr"} and synonym(toks[k].lemma) for k in sent.children(head)
    )


_NOUNS = frozenset({"NOUN", "PROPN"})  # "CEO Mark Zuckerberg": spaCy tags some titles as proper nouns
_PHRASE = frozenset({"DET", "ADJ", "NOUN", "PROPN", "NUM", "PART"})
_QUOTES = frozenset({'"', "“", "”", "'", "‘", "’"})


def _phrase(toks: Sequence[Tok], start: int, step: int, most: int = 6) -> list[int]:
    """Indices of the noun phrase's words from ``start`` on, walking by ``step`` (at most ``most``;
    quotation marks inside it are walked over: a “modest” property)."""
    out: list[int] = []
    k = start
    while 0 <= k < len(toks) and len(out) < most and (toks[k].pos in _PHRASE or toks[k].text in _QUOTES):
        out.append(k)
        k += step
    return out


def lemma_only(a: str, b: str) -> float:
    return 0.0  # near_noun's words compared by lemma only: "percentage" is near no "poll"


def holds_noun(sent: Sent, ent: Ent, noun: str) -> bool:
    """The entity's own words include the asked noun ("the age of 94")."""
    return any(t.lemma.lower() == noun for t in sent.toks[ent.first : ent.last + 1])


def argument_of(sent: Sent, ent: Ent) -> str:
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


def name_of(toks: Sequence[Tok], i: int) -> int | None:
    """For "the name of the <noun>" (or "X's birth name") from ``i``: the noun's index (-1 without
    "of"), else None."""
    while (
        i < len(toks)
        and toks[i].lemma != "name"
        and toks[i].dep in {"det", "poss", "case", "compound", "amod"}
    ):
        i += 1
    if i >= len(toks) or toks[i].lemma != "name" or toks[i].pos != "NOUN":
        return None
    of = next((k for k in range(i + 1, len(toks)) if toks[k].head == i and toks[k].lemma == "of"), None)
    noun = next(
        (k for k in range(len(toks)) if of is not None and toks[k].head == of and toks[k].dep == "pobj"), -1
    )
    return noun if noun < 0 or toks[noun].pos == "NOUN" else -1


def head_word(sent: Sent, ent: Ent) -> int:
    """The index of the entity's own head word: its one token whose head lies outside it."""
    inside = range(ent.first, ent.last + 1)
    return next((i for i in inside if sent.toks[i].head not in inside), ent.last)


def clause_verb(sent: Sent, ent: Ent, hops: int = 4) -> int | None:
    """The index of the first verb above the entity (its clause's verb), or None within ``hops``."""
    toks = sent.toks
    k = head_word(sent, ent)
    for _ in range(hops):
        if toks[k].pos in {"VERB", "AUX"} or toks[k].head == k:
            break
        k = toks[k].head
    return k if toks[k].pos in {"VERB", "AUX"} else None


OBJECT_DEPS = frozenset({"dobj", "oprd", "ccomp", "dative"})  # a verb's objects in spaCy's labels


def prepositional_use(sent: Sent, i: int) -> bool:
    """True when verb ``i`` is used with a preposition instead of an object ("calling *for* a response",
    "called *off*"): a transitive question's verb in that use means something else."""
    toks = sent.toks
    kids = sent.children(i)
    return (
        i + 1 < len(toks)
        and (i + 1) in kids
        and toks[i + 1].dep in {"prep", "prt"}
        and not any(toks[k].dep in OBJECT_DEPS for k in kids)
    )
