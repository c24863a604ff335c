"""Another name for what the question names: a demonym WordNet gives it, or the name its acronym spells.

Asked "US first lady Jill Biden met with the first lady of which country?", "American" (of
"American officials") names the US the question already holds; asked "The CDC announced ... to
respond to which virus?", "the US Centers for Disease Control and Prevention" is the CDC.
Neither answers: :func:`qa.answer.nonanswers.in_question` treats them as the question's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.answer.facts import norm_words
from qa.models.lexicon import stands_for

# An acronym's letters, at most (longer all-capital words are names or shouting, not acronyms).
MAX_ACRONYM = 6


def another_name(text: str, names: Sequence[str]) -> bool:
    """``text`` is one of ``names`` by another name: one they abbreviate, or one WordNet gives the
    same thing (its demonym's country, a synonym)."""
    if not names:
        return False
    if any(abbreviates(name, text) for name in names):
        return True
    wanted = {tuple(norm_words(name)) for name in names}
    return any(tuple(norm_words(other)) in wanted for other in stands_for(text))


def abbreviates(short: str, name: str) -> bool:
    """``short`` is an acronym of ``name``: the initials of its capitalized words, or, for three
    letters or more, of all but a leading or trailing one ("CDC": "US Centers for Disease Control
    and Prevention"; "FBI": "Federal Bureau of Investigation")."""
    letters = short.replace(".", "")
    if not (2 <= len(letters) <= MAX_ACRONYM and letters.isalpha() and letters.isupper()):
        return False
    caps = [w for w in name.split() if w[:1].isupper() and w.lower() != "the"]
    if len(caps) < 2:
        return False
    initials = "".join(w[0] for w in caps).upper()
    return letters == initials or (
        len(letters) >= 3 and letters in {initials[1:], initials[:-1], initials[1:-1]}
    )
