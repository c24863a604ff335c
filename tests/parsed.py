"""Sentences parsed by the real spaCy pipeline, for the answerer's and the parse helpers' tests."""

from __future__ import annotations

from qa.models.nlp import Annotator, Ent, Sent


def parse(annotator: Annotator, text: str) -> Sent:
    """``text`` annotated as one sentence, not stored."""
    return annotator.annotate([text], persist=False)[0]


def ent(sent: Sent, text: str) -> Ent:
    """The entity of ``sent`` whose text is ``text``."""
    return next(e for e in sent.ents if e.text == text)
