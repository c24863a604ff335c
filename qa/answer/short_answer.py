"""The short answer: which of a sentence's answer entities is the span quoted as the exact answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.answer.nonanswers import counted
from qa.answer.question import SUBJECT_DEPS, QuestionInfo
from qa.answer.syntax import head_word
from qa.models.nlp import Ent, Sent

if TYPE_CHECKING:
    from qa.answer.assess import SentenceFit


def best_answer(info: QuestionInfo, sent: Sent, fit: SentenceFit) -> Ent | None:
    """The answer entity closest to the words the question and the sentence share."""
    if not fit.answers:
        return None
    # Asked how many grandchildren, "21 grandchildren" before "five children" (a near unit).
    exact = [e for e in fit.answers if info.unit and counted(sent, e) == info.unit]
    anchors = [i for i, t in enumerate(sent.toks) if t.lemma in info.content or t.lemma == info.predicate]
    if not anchors:
        return (exact or fit.answers)[0]

    def distance(ent: Ent) -> int:
        return min(min(abs(a - ent.first), abs(a - ent.last)) for a in anchors)

    linked = [e for e in fit.answers if e in fit.linked]
    pool = linked or fit.answers
    agents = [e for e in fit.answers if _agent(sent, e)] if info.asks_subject else []
    doers = [e for e in linked if e in agents]
    if agents:
        # Asked who did it, the one the sentence says did it (a subject, or a passive's agent), before
        # a name on the asked verb in another role ("... succeeding Boris Johnson") or nearer the anchors.
        pool = doers or agents
    # The one the sentence calls by the asked noun, unless the asked verb's own subject is another
    # ("The Avalanche defeated ... in Game 6 to win the team's first Cup": not "Game 6").
    named = [e for e in fit.named if e in pool] or ([] if doers else fit.named)
    if exact:
        pool = [e for e in pool if e in exact] or exact
    preferred = named or [e for e in pool if e.label in _preferred(info.kind)] or pool
    return min(preferred, key=distance)


def _agent(sent: Sent, ent: Ent) -> bool:
    toks = sent.toks
    tok = toks[head_word(sent, ent)]
    return tok.dep in SUBJECT_DEPS or (tok.dep == "pobj" and toks[tok.head].dep == "agent")


def _preferred(kind: str) -> frozenset[str]:
    return {
        "person": frozenset({"PERSON"}),
        "place": frozenset({"GPE", "LOC"}),
        "quantity": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    }.get(kind, frozenset())
