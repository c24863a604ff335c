"""What a cited sentence answers (its *core*) and whether another outlet's sentence names it.

Corroboration (:mod:`qa.answer.corroborate`) counts a sentence of another article as
supporting when it names the cited sentence's answer and is about the same fact: the
short answer, else the cited sentence's name of the asked type ("who": a person), else, for
"what was the <noun>", the value the sentence gives that noun ("magnitude 5.9") or that
noun's own verb ("sentenced to nine years").  Names compare with accents and word forms
aside ("Hernández" / "Hernandez"; "nine years" / "a nine-year sentence").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from qa.answer.facts import named_in, same_name
from qa.answer.question import QuestionInfo
from qa.answer.syntax import near_noun
from qa.answer.verify import Verifier
from qa.models.nlp import Ent, Sent, Tok

# Prepositions that set a scene or name an agent: what they govern completes no verb's value.
SETTING = frozenset({"on", "at", "in", "during", "after", "before", "since", "until", "by", "from", "near"})


def cores(short: str | None, cited: str, info: QuestionInfo | None, verifier: Verifier) -> list[str]:
    """What the cited sentence answers: the short answer, else its names of the asked type.

    A name counts when it is of the type the question asks for (a person for "who", a
    place for "where", a count for "how many") and the question does not already hold it.
    """
    if short and short in cited:  # the outlet's credit in a dateline ("(CNN)") is no answer
        return [short]
    if info is not None and info.kind == "open" and info.focus:
        # "What was the magnitude...": the value the sentence gives the asked noun ("magnitude 5.9").
        sent = verifier.annotator.annotate([cited], persist=False)[0]
        return [
            e.text
            for e in sent.ents
            if (near_noun(sent, e, info.focus, _exact) or verb_of(sent, e, info.focus))
            and not any(same_name(e.text, name) for name in info.names)
        ][:1]
    if info is None or not info.types or info.kind in {"yesno", "open"}:
        return []
    sent = verifier.annotator.annotate([cited], persist=False)[0]
    # The first such name only: a sentence naming a person or place beside the answer is common.
    return [
        e.text
        for e in sent.ents
        if e.label in info.types and not any(same_name(e.text, name) for name in info.names)
    ][:1]


def _exact(a: str, b: str) -> float:
    return 0.0  # near_noun's words compared by lemma only


def verb_of(sent: Sent, ent: Ent, noun: str) -> bool:
    """The entity completes the asked noun's own verb ("what sentence": "sentenced *to nine years*";
    "what fine": "fined *$5,000*"): a verb of that lemma on its head chain, reached through no
    preposition of time, place or agent ("sentenced *on Thursday*", "*by a court*")."""
    k = ent.last
    for _ in range(3):
        k = sent.toks[k].head
        tok = sent.toks[k]
        if tok.pos == "ADP" and tok.lemma in SETTING:
            return False
        if tok.pos == "VERB" and tok.lemma == noun:
            return True
    return False


def names(core: str, evidence: Sent, lemmas: str = "") -> bool:
    """``core`` is named in ``evidence``, accents aside ("Hernández" / "Hernandez"), or, given the
    core's ``lemmas``, word forms aside ("nine years" / "a nine-year sentence")."""
    return (
        named_in(core, [evidence])
        or f" {fold(core)} " in f" {fold(evidence.text)} "
        or (bool(lemmas) and f" {lemmas} " in f" {lemma_words(evidence)} ")
    )


def lemma_words(sent: Sent) -> str:
    """The sentence's lemmas, lower-case and folded, without punctuation or symbols."""
    if "lemma_words" not in sent.memo:
        sent.memo["lemma_words"] = lemmas_of(sent.toks)
    return str(sent.memo["lemma_words"])


def lemmas_of(toks: Sequence[Tok]) -> str:
    """The tokens' lemmas, lower-case and folded, without punctuation or symbols."""
    return fold(" ".join(t.lemma for t in toks if t.pos not in {"PUNCT", "SYM"}))


def fold(text: str) -> str:
    """Lower-case words without accents, one space apart."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return " ".join(re.findall(r"\w+", "".join(ch for ch in decomposed if not unicodedata.combining(ch))))
