"""Timeline answers: "what happened with X" / "how did X unfold" as dated, cited events, oldest first.

:func:`is_timeline_question` reads the parsed question (spaCy): a *what* or
*how* question whose main verb is one of the verbs that ask for a course of
events (*happen*, *unfold*, *develop*, *evolve*, *progress*, *go*), or that asks
for a *timeline* / *chronology* / *history* of something.  ``mode: "timeline"``
on ``/ask`` asks for one explicitly.

:func:`build_timeline` picks the events from the passages retrieved for the
question (``QA_TIMELINE_PASSAGES`` of them, spread over articles):

1. every sentence of the passages is scored against the question's topic (the
   question without its wh-word and the course-of-events verb) like the verifier
   scores evidence (lexical overlap and cosine);
2. each dated article contributes its best sentence, if it scores at least
   ``MIN_EVENT_SCORE``; an article that is a copy of one already used
   (:class:`qa.ingest.dedup.OriginIndex`), or a sentence nearly the same as one
   already chosen (cosine >= ``SAME_EVENT_COSINE``: two outlets wording one
   event alike), is left out, so each event is told once across outlets;
3. the best ``QA_TIMELINE_EVENTS`` are kept and put in date order (oldest first;
   within a day, in article order);
4. the quoted sentences, each with its passage marker, are verified like any
   draft (:meth:`qa.answer.verify.Verifier.verify`): only supported sentences stay,
   each with its citation.

Linear in the passages' sentences; one batched scoring call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.evidence import Candidate, candidates
from qa.answer.timeaware import long_date
from qa.answer.verify import MIN_CLAIM_STEMS, NOT_FOUND, Verified, Verifier
from qa.ingest.dedup import OriginIndex
from qa.models.nlp import Sent
from qa.text import content_stems
from qa.types import Answer, Passage, Question, TimelineEvent

# Verbs that ask for a course of events (a closed class of English), and the nouns that name one.
COURSE_VERBS = frozenset({"happen", "unfold", "develop", "evolve", "progress", "go", "transpire"})
COURSE_NOUNS = frozenset({"timeline", "chronology", "history"})
MIN_EVENT_SCORE = 0.3
SAME_EVENT_COSINE = 0.85


def is_timeline_question(sent: Sent) -> bool:
    """True for "What happened with X?", "How did X unfold?", "What is the timeline of X?"."""
    toks = sent.toks
    words = [t.text.lower() for t in toks]
    if not toks or words[0] not in {"what", "how"}:
        return False
    root = next((t for i, t in enumerate(toks) if t.head == i), None)
    if root is not None and root.pos in {"VERB", "AUX"} and root.lemma in COURSE_VERBS:
        # "How did it go?" asks for a course; "How many people went?" does not.
        return words[0] == "what" or (len(words) > 1 and toks[1].pos in {"AUX", "VERB"})
    return any(t.lemma in COURSE_NOUNS and t.pos == "NOUN" for t in toks)


def topic_of(sent: Sent) -> str:
    """The question without its wh-word, auxiliaries, course-of-events words and punctuation."""
    keep = [
        t.text
        for t in sent.toks
        if t.text.lower() not in {"what", "how"}
        and t.pos not in {"AUX", "PUNCT"}
        and t.lemma not in COURSE_VERBS | COURSE_NOUNS
    ]
    return " ".join(keep) or sent.text


@dataclass(frozen=True)
class Timeline:
    """A verified timeline: the answer text, the verification, and the events (oldest first)."""

    text: str
    verified: Verified
    events: list[TimelineEvent]


def _pick(
    topic: str,
    passages: Sequence[Passage],
    verifier: Verifier,
    origins: OriginIndex | None,
    max_events: int,
) -> list[Candidate]:
    pool = [
        c
        for c in candidates(passages, pairs=False)
        if passages[c.passage - 1].published_at and len(content_stems(c.text)) >= MIN_CLAIM_STEMS
    ]
    if not pool:
        return []
    scores = verifier.score([topic], pool)[0]
    vectors = verifier.embeddings.embed([c.text for c in pool])
    groups = origins.groups([c.doc_id for c in pool]) if origins is not None else []
    origin = {doc: g[0] for g in groups for doc in g}
    chosen: list[int] = []
    used: set[str] = set()
    for i in sorted(range(len(pool)), key=lambda i: -scores[i]):
        if len(chosen) == max_events or scores[i] < MIN_EVENT_SCORE:
            break
        key = origin.get(pool[i].doc_id, pool[i].doc_id)
        if key in used:
            continue
        if chosen and float(np.max(vectors[chosen] @ vectors[i])) >= SAME_EVENT_COSINE:
            continue
        used.add(key)
        chosen.append(i)
    picked = [pool[i] for i in chosen]
    return sorted(picked, key=lambda c: (passages[c.passage - 1].published_at or "", c.doc_id, c.start))


def build_timeline(
    sent: Sent,
    passages: Sequence[Passage],
    verifier: Verifier,
    origins: OriginIndex | None,
    max_events: int,
) -> Timeline:
    """The verified timeline of a question over ``passages`` (see the module docstring)."""
    events = _pick(topic_of(sent), passages, verifier, origins, max_events)
    draft = " ".join(f"{' '.join(c.text.split()).rstrip('.')} [{c.passage}]." for c in events)
    verified = verifier.verify(draft, passages)
    if not verified.answered:
        return Timeline(verified.answer, verified, [])
    by_span = {(c.doc_id, c.start, c.end): c for c in verified.citations}
    out: list[TimelineEvent] = []
    for s in verified.sentences:
        ev = s.evidence
        cite = by_span.get((ev.doc_id, ev.start, ev.end)) if s.supported and ev is not None else None
        if cite is not None and cite.published_at and all(e.citation != cite.n for e in out):
            out.append(TimelineEvent(cite.published_at, cite.text, cite.n))
    out.sort(key=lambda e: e.date)
    lines = [f"{long_date(e.date)}: {' '.join(e.text.split()).rstrip('.')} [{e.citation}]." for e in out]
    return Timeline("\n".join(lines) or verified.answer, verified, out)


def timeline_answer(
    question: Question,
    sent: Sent,
    passages: list[Passage],
    verifier: Verifier,
    origins: OriginIndex | None,
    max_events: int,
    backend: str,
) -> Answer:
    """The :class:`Answer` of a timeline question: events as text lines, citations and ``timeline``."""
    built = build_timeline(sent, passages, verifier, origins, max_events)
    answered = bool(built.events)
    supports = [c.support for c in built.verified.citations]
    return Answer(
        answer=built.text if answered else NOT_FOUND,
        answered=answered,
        citations=built.verified.citations if answered else [],
        backend=backend,
        passages=passages,
        standalone_question=question.retrieval_text,
        unsupported=built.verified.unsupported,
        # No calibrated confidence for a list of quoted events: the mean support of its citations.
        confidence=round(sum(supports) / len(supports), 3) if answered and supports else 0.0,
        timeline=built.events,
    )
