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
    "fewer than 35"; "nearly $25 billion" is "$24.6 billion" rounded; "quake" is an
    "earthquake"; a duration, "nine years", is a number of years, an age is not).
    Same unit with another value, or the same value with another unit:
    *contradicted*; absent: *not stated* (:mod:`qa.answer.entail_values`).
``dates``
    the claim's months, days, years and weekdays agree with the evidence's; given
    both articles' dates, a lone weekday is read as the date it names.
``polarity``
    a predicate negated in one and asserted in the other ("not open" / "open",
    "no immediate plans" / "plans", "without conditions" / "with conditions"), or
    aligned verbs WordNet makes opposites ("fell" / "climbed"; "did not reject" /
    "approved" agree): *contradicted*.  A claim that negates what the evidence never mentions:
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

from collections.abc import Callable, Sequence

from qa.answer.entail_values import check_dates, check_numbers
from qa.answer.facts import (
    is_name,
    named_in,
    names_of,
)
from qa.answer.judgement import CONTRADICTED, ENTAILED, NOT_STATED, Judgement
from qa.answer.syntax import (
    LIGHT_VERBS,
    alignment,
    any_same,
    arguments,
    clause_polarity,
    descriptors,
    hedged,
    modifiers,
    predicate_of,
    sent_children,
    window,
)
from qa.models import lexicon
from qa.models.nlp import Ent, Sent

FUTURE = frozenset({"will", "'ll", "shall"})

__all__ = ["CONTRADICTED", "ENTAILED", "NOT_STATED", "Judgement", "judge"]

# -- the judgement ----------------------------------------------------------------------


def judge(
    claim: Sent,
    evidence: Sent,
    *,
    context: Sequence[Sent] = (),
    support: float = 1.0,
    min_support: float = 0.65,
    similarity: Callable[[str, str], float] | None = None,
    substitution_min: float = 0.9,
    published: tuple[str | None, str | None] = (None, None),
) -> Judgement:
    """Entailed, contradicted or not stated; see the module docstring.

    ``context`` (the sentence before, the article's title) may name who a
    pronoun stands for; predicates, numbers and polarity are judged on
    ``evidence`` alone.  ``support`` is the verifier's lexical+cosine score of
    the pair; ``similarity(a, b)`` embeds two texts and returns their cosine
    (for the substitution test; skipped when None).  ``published``: the claim's and the
    evidence's article dates, when both come from articles (a lone weekday is then read as
    the date it names, :func:`qa.answer.article_dates.dated`).
    """
    result = Judgement(ENTAILED)
    _check_names(claim, evidence, context, result)
    check_numbers(claim, evidence, result)
    aligned = alignment(claim, evidence)
    check_dates(claim, evidence, aligned, result, published)
    _check_polarity(claim, evidence, aligned, result)
    _check_hedges(claim, evidence, aligned, result)
    _check_scope(claim, evidence, result)
    _check_roles(claim, evidence, aligned, result)
    if similarity is not None:
        _check_predicates(claim, evidence, aligned, similarity, substitution_min, result)
    result.checks["support"] = support >= min_support
    if support < min_support:
        result.fail("support", f"support {support:.2f} is below {min_support:.2f}", NOT_STATED)
    return result


def _check_names(claim: Sent, evidence: Sent, context: Sequence[Sent], result: Judgement) -> None:
    ents = {e.text: e for e in claim.ents}
    missing = [
        n
        for n in dict.fromkeys(names_of(claim))
        if not named_in(n, [evidence])
        and not (
            named_in(n, context)
            and (
                stands_for(evidence, ents[n].label if n in ents else "")
                or _modified(claim, ents.get(n), evidence)
            )
        )
    ]
    result.checks["entities"] = not missing
    for name in missing:
        result.fail("entities", f"'{name}' is not named in the evidence", NOT_STATED)


# What can stand for a name given only in the context (the sentence before, the title): a
# third-person pronoun, or a definite noun whose most frequent WordNet sense is of the name's
# kind ("He did not elaborate", "The agency originally designated ..."), not already standing
# for a name earlier in the evidence ("the Minnesota Lottery announced its system ...").
_PERSON_PRONOUNS = frozenset({"he", "him", "his", "she", "her", "hers", "they", "them", "their"})
_OTHER_PRONOUNS = frozenset({"it", "its", "they", "them", "their"})
_DEFINITE = frozenset({"the", "this", "that", "these", "those", "both"})
_KINDS = {
    "PERSON": frozenset({"noun.person"}),
    "NORP": frozenset({"noun.person", "noun.group"}),
    "ORG": frozenset({"noun.group", "noun.artifact"}),
    "GPE": frozenset({"noun.location", "noun.group"}),
    "LOC": frozenset({"noun.location", "noun.object"}),
    "FAC": frozenset({"noun.artifact", "noun.location"}),
    "EVENT": frozenset({"noun.event", "noun.act", "noun.time"}),
}


def stands_for(evidence: Sent, label: str) -> bool:
    """Whether ``evidence`` holds a word that may stand for a name of type ``label`` given elsewhere."""
    kinds = _KINDS.get(label)
    if kinds is None:
        return True  # a name of another type (or a proper noun spaCy did not type): as before
    person = label == "PERSON"
    pronouns = _PERSON_PRONOUNS if person else _OTHER_PRONOUNS
    words = lexicon.lexicon()
    for i, t in enumerate(evidence.toks):
        low = t.text.lower()
        if t.pos == "PRON" and low in pronouns:
            bound = any(
                e.last < i and (e.label == "PERSON") == person and e.label in _KINDS for e in evidence.ents
            )
            if not bound or low in {"they", "them", "their"}:
                return True
        elif t.pos == "NOUN" and _definite(evidence, i):
            classes = words.classes(t.lemma) if words is not None else []
            if words is None or (classes and classes[0] in kinds):
                return True
    return False


def _modified(claim: Sent, ent: Ent | None, evidence: Sent) -> bool:
    """A name modifying a noun ("the Sumy attack") that the evidence has as a definite noun, the
    same word or one in the same slot of the same verb ("The final individual competition takes
    place" for "The last LIV event ... takes place")."""
    if ent is None:
        return False
    head = claim.toks[ent.last].head
    if ent.first <= head <= ent.last or claim.toks[head].pos != "NOUN":
        return False
    if claim.toks[ent.last].dep not in {"compound", "poss", "amod", "nmod"}:
        return False
    noun = claim.toks[head]
    verb = claim.toks[noun.head]
    for j, t in enumerate(evidence.toks):
        if t.pos != "NOUN" or not _definite(evidence, j):
            continue
        if t.lemma == noun.lemma or (
            verb.pos in {"VERB", "AUX"} and t.dep == noun.dep and evidence.toks[t.head].lemma == verb.lemma
        ):
            return True
    return False


def _definite(sent: Sent, i: int) -> bool:
    return any(sent.toks[c].dep == "det" and sent.toks[c].text.lower() in _DEFINITE for c in sent.children(i))


def _check_polarity(claim: Sent, evidence: Sent, aligned: dict[int, int], result: Judgement) -> None:
    claim_pol, evidence_pol = clause_polarity(claim), clause_polarity(evidence)
    any_evidence_neg = any(evidence_pol.values())
    ok = True
    for i, negative in claim_pol.items():
        t = claim.toks[i]
        if t.lemma in {"be", "have", "do"} or t.pos == "AUX":
            continue
        j = aligned.get(i)
        if j is not None and j not in evidence_pol:
            # A noun in the claim's predicate slot ("would not appeal" / "plans to file an appeal"):
            # the evidence's polarity is its governing predicate's.
            j = predicate_of(evidence, j)
        if j is None or j not in evidence_pol:
            if negative and not any_evidence_neg:
                ok = False
                result.fail(
                    "polarity", f"the claim negates '{t.text}', which the evidence does not", NOT_STATED
                )
            continue
        # The side that asserts may be negated from above ("At no time was ... compromised").
        asserting = (
            _negated_above(evidence, evidence_pol, j) if negative else _negated_above(claim, claim_pol, i)
        )
        e = evidence.toks[j]
        # Opposite verbs by WordNet flip the polarity: "dropped" / "rose" differ, "did not accept" /
        # "rejected" agree.
        flipped = e.pos == "VERB" and t.pos == "VERB" and lexicon.opposite_verbs(t.lemma, e.lemma)
        if (negative != evidence_pol[j]) != flipped and not asserting:
            ok = False
            which = "claim" if negative else "evidence"
            result.fail(
                "polarity",
                f"'{t.text}' is the opposite of '{e.text}'"
                if flipped
                else f"the {which} negates '{t.text if negative else e.text}', the other asserts it",
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


def _check_hedges(claim: Sent, evidence: Sent, aligned: dict[int, int], result: Judgement) -> None:
    """A claim that asserts what the evidence only hedges ("has overtaken" / "should overtake"), or
    that states as done what the evidence says will be ("approved" / "will give voters the chance")."""
    for i, j in aligned.items():
        if claim.toks[i].pos != "VERB":
            continue
        if hedged(evidence, j) and not hedged(claim, i):
            result.fail("hedges", f"the evidence only says '{evidence.toks[j].text}' may happen", NOT_STATED)
            return
        if future(evidence, j) and not future(claim, i):
            result.fail("hedges", f"the evidence says '{evidence.toks[j].text}' is yet to happen", NOT_STATED)
            return
    result.checks["hedges"] = True


# Words that claim the whole of something or its utmost degree (closed-class quantifiers and
# degree adverbs): a claim that adds one where the evidence has none says more than it does
# ("completely destroyed" / "damaged", "its entire recruiting team" / "job cuts").  Not "only":
# "only a few exceptions" is "few exceptions".
SCOPE = frozenset(
    {"all", "every", "each", "entire", "whole", "completely", "entirely", "totally", "fully", "wholly"}
    | {"always", "unanimous", "unanimously"}
)


def _scope_words(sent: Sent) -> list[str]:
    toks, out = sent.toks, []
    for i, t in enumerate(toks):
        low = t.text.lower()
        if low not in SCOPE:
            continue
        if low == "each" and i + 1 < len(toks) and toks[i + 1].text.lower() == "other":
            continue  # "accused each other": reciprocal, not a quantifier
        if t.ent in {"DATE", "TIME"} or (i > 0 and toks[i - 1].ent in {"MONEY", "CARDINAL", "QUANTITY"}):
            continue  # "every year", "all day": how often; "$1 million each": per item
        out.append(t.text)
    return out


def _check_scope(claim: Sent, evidence: Sent, result: Judgement) -> None:
    """A claim that adds "all", "entire", "completely" ... to evidence that has none of them."""
    added = _scope_words(claim)
    if added and not _scope_words(evidence):
        result.fail("scope", f"the claim says '{added[0]}', which the evidence does not", NOT_STATED)
        return
    result.checks["scope"] = True


def future(sent: Sent, i: int) -> bool:
    """The verb at ``i`` (or the verb whose clause it completes: "will give voters the chance to
    legalize") is under "will" / "shall"."""
    for _ in range(3):
        if any(sent.toks[c].dep == "aux" and sent.toks[c].lemma in FUTURE for c in sent.children(i)):
            return True
        if sent.toks[i].dep not in {"xcomp", "acl"} or sent.toks[i].head == i:
            return False
        i = sent.toks[i].head
    return False


def _negated_above(sent: Sent, polarity: dict[int, bool], i: int) -> bool:
    """A clause above the predicate is negated ("At no time was the integrity ... compromised"):
    its polarity is not cleanly the opposite.  Conjuncts are separate clauses, not above."""
    k = i
    for _ in range(4):
        head = sent.toks[k].head
        if head == k or sent.toks[k].dep in {"conj", "ccomp", "advcl"}:
            return False
        k = head
        if polarity.get(k):
            return True
    return False


def _check_roles(claim: Sent, evidence: Sent, aligned: dict[int, int], result: Judgement) -> None:
    ok = True
    claim_args, evidence_args = arguments(claim), arguments(evidence)
    for i, t in enumerate(claim.toks):
        if t.lemma not in claim_args or t.lemma in LIGHT_VERBS or i not in aligned:
            continue
        subj, obj = claim_args[t.lemma]
        e_lemma = evidence.toks[aligned[i]].lemma
        if e_lemma not in evidence_args:
            continue
        e_subj, e_obj = evidence_args[e_lemma]
        # A different verb in the same slot is too loose to judge who did it, unless the two names
        # trade places whole ("Tampa Bay beat Colorado" / "Colorado defeated Tampa Bay").
        traded = bool(
            subj and obj and e_subj and e_obj and any_same(subj, e_obj) and any_same(obj, e_subj)
        ) and not (any_same(subj, e_subj) or any_same(obj, e_obj))
        if e_lemma != t.lemma and not traded and not (obj and e_obj and any_same(obj, e_obj)):
            continue
        swapped = (subj and e_obj and any_same(subj, e_obj) and not any_same(subj, e_subj)) or (
            obj and e_subj and any_same(obj, e_subj) and not any_same(obj, e_obj)
        )
        other_agent = (
            subj
            and e_subj
            and not any_same(subj, e_subj)
            and all(is_name(claim, x) for x in subj)
            and all(is_name(evidence, x) for x in e_subj)
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
    # A title given to one person in the claim and to another in the evidence ("biologist X").
    evidence_titles = descriptors(evidence)
    for title, names in descriptors(claim).items():
        others = evidence_titles.get(title)
        if others and not any_same(names, others):
            ok = False
            result.fail("roles", f"the {title} is {', '.join(sorted(others))} in the evidence", CONTRADICTED)
    claim_mods, evidence_mods = modifiers(claim), modifiers(evidence)
    for noun, names in claim_mods.items():
        others = evidence_mods.get(noun)
        if others and not any_same(names, others):
            ok = False
            result.fail("roles", f"'{noun}' is {', '.join(sorted(others))} in the evidence", CONTRADICTED)
    result.checks["roles"] = ok


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
        if i not in aligned or t.pos not in {"VERB", "ADJ"} or t.lemma in LIGHT_VERBS:
            continue
        j = aligned[i]
        e = evidence.toks[j]
        if e.lemma == t.lemma:
            continue
        # A synonym barely moves the words around it; an antonym or a stronger word moves them far.
        score = similarity(window(evidence, j), window(evidence, j, t.text))
        if score < minimum:
            ok = False
            result.fail(
                "predicates",
                f"'{t.text}' does not mean '{e.text}' here (substitution {score:.2f})",
                CONTRADICTED,
            )
    result.checks["predicates"] = ok
