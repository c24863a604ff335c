"""Where a named entity hangs in a sentence's parse: what the answerer checks it against.

An answer must hang on the question's predicate (:func:`around` gives the words it
hangs on), must not merely modify the asked noun (:func:`describes`), and a name
inside a person's title ("House Speaker Nancy Pelosi") stands for that person
(:func:`title_holder`): it answers only when the person does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.facts import same_name
from qa.answer.nonanswers import REPORTING_VERBS
from qa.answer.syntax import head_word
from qa.models.nlp import Ent, Sent

# What a reporting verb says of its object: an open clause ("reported killed") or an object
# predicate ("reported dead", "confirmed missing").
REPORTED_STATE = frozenset({"xcomp", "oprd", "acomp"})


def title_holder(sent: Sent, ent: Ent) -> Ent | None:
    """The person whose title the entity is part of: "House" in "House Speaker Nancy Pelosi",
    "State" in "Secretary of State Condoleezza Rice", "Formula One" in "Formula One world champion
    Lewis Hamilton"."""
    if ent.label == "PERSON":
        return None
    toks = sent.toks
    k = ent.last
    for _ in range(5):
        t = toks[k]
        of = t.dep in {"pobj", "prep"} and toks[t.head if t.dep == "pobj" else k].lemma == "of"
        if t.head == k or not (t.dep in {"compound", "nmod", "nummod"} or of):
            return None
        k = t.head
        title = toks[k]
        person = next(
            (j for j in sent.children(k) if toks[j].ent == "PERSON" and toks[j].dep == "appos"), None
        )
        if (
            title.ent == "PERSON"
            or person is not None
            or (title.dep in {"appos", "conj"} and toks[title.head].ent == "PERSON")
        ):
            at = k if title.ent == "PERSON" else person if person is not None else title.head
            return next((e for e in sent.ents if e.first <= at <= e.last), None)
    return None


def around(sent: Sent, ent: Ent, hops: int = 3) -> list[int]:
    """The tokens an entity hangs on in the parse: its heads up to ``hops`` steps (the verb it is an
    argument of, through a preposition or the noun it counts) and the words attached to it
    ("spokesperson" in "Kremlin spokesperson Dmitry Peskov")."""
    toks = sent.toks
    inside = range(ent.first, ent.last + 1)
    out = [j for j in range(len(toks)) if toks[j].head in inside and j not in inside]
    k = ent.last
    for _ in range(hops):
        if toks[k].head == k:
            break
        k = toks[k].head
        out.append(k)
        if toks[k].lemma in REPORTING_VERBS:  # "109 people were reported *killed*" / "reported *dead*"
            out += [j for j in sent.children(k) if toks[j].dep in REPORTED_STATE]
    return out


def describes(sent: Sent, ent: Ent, focus: str) -> bool:
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


# Names that act: the subject of the verb a figure or a date hangs on.
ACTORS = frozenset({"PERSON", "ORG", "GPE", "NORP"})


def another_actor(sent: Sent, ent: Ent, names: Sequence[str], question: str) -> Ent | None:
    """The named subject of the verb ``ent`` (a figure or a date) hangs on, when the question (its
    ``names``, its text) names it nowhere but names something: "WhatsApp was fined 225 million
    euros", asked what Instagram was fined."""
    if not names:
        return None
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    toks = sent.toks
    k = ent.last
    for _ in range(4):
        if toks[k].head == k:
            return None
        k = toks[k].head
        if toks[k].pos in {"VERB", "AUX"}:
            break
    else:
        return None
    for e in sent.ents:
        if e.label in ACTORS and toks[e.last].dep in {"nsubj", "nsubjpass"} and toks[e.last].head == k:
            words = {w.lower() for w in re.findall(r"\w+", e.text) if w[:1].isupper()}
            return None if any(same_name(e.text, n) for n in names) or words & asked else e
    return None


def restates(sent: Sent, ent: Ent) -> bool:
    """Whether ``ent`` is what a "he / she / they was ..." clause says of its subject ("She was 90."):
    the entity's clause is the copula with a personal pronoun for its subject."""
    k, hops = ent.last, 0
    while sent.toks[k].head != k and hops < 4:
        k, hops = sent.toks[k].head, hops + 1
    root = sent.toks[k]
    return root.lemma == "be" and any(
        sent.toks[j].dep in {"nsubj", "nsubjpass"} and sent.toks[j].lemma in {"he", "she", "they"}
        for j in sent.children(k)
    )


# Prepositions that say where something is or happens.
_LOCATIVE = frozenset({"in", "at", "near", "outside", "across", "throughout"})
_PLACES = frozenset({"GPE", "LOC"})


def where_it_happens(sent: Sent, ent: Ent) -> bool:
    """Whether a place's name says where something is or happens: the object of a locative
    preposition, or in apposition to one ("takes place in Jeddah, *Saudi Arabia*"). Asked "which
    team won", such a place names no team."""
    if ent.label not in _PLACES:
        return False
    toks = sent.toks
    k = head_word(sent, ent)
    for _ in range(3):
        t = toks[k]
        if t.dep == "pobj":
            return toks[t.head].lemma in _LOCATIVE
        if t.dep not in {"appos", "npadvmod", "conj"} or t.head == k:
            return False
        k = t.head
    return False
