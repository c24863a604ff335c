"""Which sentence of a question asks: news quizzes set the scene before they ask.

"Police arrested 31 men ... who allegedly planned to riot at a Pride event. Where was the event?"
asks a place, not a person: :func:`qa.answer.question.analyze` reads its question word, predicate,
subject and hedges in the asking sentence, and takes names and content words from all of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.models.nlp import Sent, Tok


def question_start(sent: Sent) -> int:
    """The index of the first token of the sentence that asks: the last one ending in "?" (else the
    last one). News quizzes set the scene first ("Police arrested 31 men ... who allegedly planned
    to riot at a Pride event. Where was the event?"): its "who" is no question word."""
    toks = sent.toks
    ends = [i for i, t in enumerate(toks) if t.text in {".", "!", "?"} and t.pos == "PUNCT"]
    asks = [i for i in ends if toks[i].text == "?"]
    stop = asks[-1] if asks else len(toks)
    start = max((i + 1 for i in ends if i < stop), default=0)
    while start < stop and toks[start].pos == "PUNCT":
        start += 1  # the quotation mark that closes the scene's last sentence
    return start if start < stop else 0


def phrase_starts(toks: Sequence[Tok], i: int) -> bool:
    """A noun phrase opens at ``i``, after "which" / "what": "which pitcher", "which Russian city",
    "which two states" (a count of the answers asked for)."""
    number = toks[i].pos == "NUM" and i + 1 < len(toks) and toks[i + 1].pos == "NOUN"
    return number or toks[i].pos in {"NOUN", "PROPN", "ADJ"}
