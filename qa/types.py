"""The small dataclasses that flow between the pipeline stages.

``Article -> Chunk -> Passage -> Citation -> Answer``: every span is a pair of
character offsets into ``Article.text``, so ``article.text[start:end]`` is
always the quoted text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article as ingested: the unit that is added, replaced and deleted."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    published_at: str | None = None  # ISO date, YYYY-MM-DD
    url: str = ""


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article; ``text == article.text[start:end]``."""

    doc_id: str
    start: int
    end: int
    text: str
    ordinal: int  # position of the chunk within its article


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and the metadata of its article."""

    chunk_id: int
    doc_id: str
    title: str
    source: str
    published_at: str | None
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Citation:
    """One cited span: ``n`` is the marker number used in the answer text.

    ``start``/``end`` and ``text`` are the supporting sentence's span within the
    article (not the whole passage).
    """

    n: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    source: str = ""
    published_at: str | None = None
    supported: bool = True
    support: float = 1.0  # how strongly the cited span entails the claim (0..1)
    checks: dict[str, bool] = field(default_factory=dict)  # entailment checks run, and their results
    why: list[str] = field(default_factory=list)  # plain-language reasons (failed checks first)


@dataclass(frozen=True)
class Question:
    """A question as the answer stages see it: the user's own words, and a follow-up's context.

    ``text`` decides what is asked (its predicate, the type of answer); ``context``
    (the earlier question and answer of a chat, when the follow-up leans on them)
    only helps retrieval find the topic.  Condensing by an LLM yields a
    standalone ``text`` and no context.
    """

    text: str
    context: str = ""

    @property
    def retrieval_text(self) -> str:
        """What retrieval searches with: the question and its context."""
        return f"{self.text} {self.context}".strip() if self.context else self.text


@dataclass(frozen=True)
class ShortAnswer:
    """The exact answer: a span inside a cited sentence (``article.text[start:end] == text``)."""

    text: str
    doc_id: str
    start: int
    end: int
    citation: int  # the marker number of the sentence it lies in


@dataclass(frozen=True)
class SourceRef:
    """An article sentence that states (or contradicts) an answer sentence: ``text == article.text[start:end]``."""

    doc_id: str
    source: str
    published_at: str | None
    start: int
    end: int
    text: str = ""
    title: str = ""
    citation: int | None = (
        None  # its marker number when the answer cites it too (an update, an earlier report)
    )


@dataclass
class SentenceSources:
    """Who else reports one answer sentence, and who reports it otherwise (see ``qa.answer.corroborate``)."""

    sentence: str  # the answer sentence, without its marker
    citation: int  # the marker number of its citation
    supported_by: list[SourceRef] = field(default_factory=list)  # other articles that state it
    contradicted_by: list[SourceRef] = field(default_factory=list)  # other articles that differ
    origins: int = 1  # independent origins among the cited article and its supporters (copies count once)
    summary: str = ""  # the plain-language line: "Reported by CNN and USA Today."
    as_of: str | None = None  # set when drawn from an older article: the answer says "as of <date>"
    updates: list[SourceRef] = field(default_factory=list)  # newer articles with another value (cited)
    earlier: list[SourceRef] = field(default_factory=list)  # older articles with another value


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event of a timeline answer: a quoted sentence and its citation."""

    date: str  # ISO date the article was published
    text: str  # the quoted sentence
    citation: int  # its marker number


@dataclass
class Answer:
    """The pipeline's result: the answer text with ``[n]`` markers and its citations."""

    answer: str
    answered: bool
    citations: list[Citation]
    backend: str
    passages: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""  # the question as retrieved for (condensed from a conversation)
    unsupported: list[str] = field(default_factory=list)  # draft sentences dropped by verification
    short_answer: ShortAnswer | None = None
    confidence: float = 0.0  # calibrated probability that the answer is right (0..1)
    features: dict[str, float] = field(default_factory=dict)  # what the confidence was computed from
    sources: list[SentenceSources] = field(default_factory=list)  # per answer sentence, when corroborated
    timeline: list[TimelineEvent] = field(default_factory=list)  # dated events, oldest first (timeline mode)
