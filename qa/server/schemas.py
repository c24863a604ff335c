"""Request and response schemas of the HTTP API, named by role.

Where they sit: at the server's border.  Requests (``AskRequest``, ``ChatRequest``,
``ArticleIn``...) are validated here before a route runs; responses
(``AnswerPublic``, ``PassagePublic``...) are built from the pipeline's dataclasses
(:mod:`qa.types`) with ``.of(...)``, so internal fields never leak by accident.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from qa.answer.retrieve import Filters
from qa.text import has_lone_surrogate
from qa.types import Answer, Citation, Passage, SentenceSources

if TYPE_CHECKING:
    from qa.store import StoredDocument

# "Contains a character that str.strip() keeps", so the schema states what check_question enforces
# (a blank question is refused).  JSON Schema patterns are unanchored searches, like pydantic's.
# Spelled out rather than \S: Python, ECMA (the schema's dialect) and Rust (pydantic's) disagree on
# what \s covers (\x1c-\x1f, \x85, \ufeff); these escapes mean the same in all three.
_BLANK = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{_BLANK}]"
# An article's text: NULs are dropped at ingest, so they don't count either.
HAS_TEXT = f"[^\\x00{_BLANK}]"


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (strings): pydantic would also take 0 or "0" as a Unix timestamp."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date as YYYY-MM-DD is required")
    return value


# A date as the schema promises it (``format: date``), and nothing else.
IsoDate = Annotated[date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]


def _json_integer(value: object) -> object:
    """JSON Schema's integer: 12 and 12.0, but not true (Python's 1) or "12" (pydantic's lax mode)."""
    if isinstance(value, bool | str):
        raise ValueError("an integer is required")
    return value


# Passages to retrieve for one question.
TopK = Annotated[int, Field(ge=1, le=50), BeforeValidator(_json_integer)]  # this order: minimum/maximum


def filters_of(
    sources: Sequence[str],
    after: date | None,
    before: date | None,
    as_of: date | None,
    *,
    drop_blank: bool = True,
) -> Filters:
    """The retrieval filters of a request's fields, for every route and tool.

    Blank source names are dropped, except on ``GET /search`` (``drop_blank=False``),
    whose ``source=`` has always matched articles without a source.
    """
    return Filters(
        sources=tuple(s for s in sources if s.strip() or not drop_blank),
        published_after=after.isoformat() if after else None,
        published_before=before.isoformat() if before else None,
        as_of=as_of.isoformat() if as_of else None,
    )


class FilterFields(BaseModel):
    """Metadata filters shared by search, ask and chat."""

    sources: list[str] = Field(
        default_factory=list, max_length=50, description="Only articles from these sources."
    )
    published_after: IsoDate | None = Field(
        None, description="Only articles published on or after this date."
    )
    published_before: IsoDate | None = Field(
        None, description="Only articles published on or before this date."
    )
    as_of: IsoDate | None = Field(
        None, description="Answer as of this date: later articles are excluded, recent ones preferred."
    )

    def filters(self) -> Filters:
        return filters_of(self.sources, self.published_after, self.published_before, self.as_of)


class AskRequest(FilterFields):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        ...,
        min_length=1,
        pattern=NOT_BLANK,
        description="The question, in plain language (at most QA_MAX_QUESTION_CHARS characters).",
        examples=["What conditions did Russia set?"],
    )
    top_k: TopK | None = Field(None, description="Passages to retrieve (default QA_TOP_K).")
    backend: str | None = Field(None, max_length=200, description="Answer backend (default QA_BACKEND).")
    mode: Literal["auto", "answer", "timeline"] = Field(
        "auto",
        description='"timeline": dated events, oldest first, one cited sentence each; "answer": never a timeline; "auto": a timeline for "what happened with X" / "how did X unfold" questions.',
    )


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(..., min_length=1, max_length=20000, pattern=NOT_BLANK)

    @field_validator("content")
    @classmethod
    def _valid_unicode(cls, value: str) -> str:
        if has_lone_surrogate(value):
            raise ValueError("contains an unpaired UTF-16 surrogate (invalid Unicode)")
        return value


class ChatRequest(FilterFields):
    model_config = ConfigDict(extra="forbid")

    messages: list[MessageIn] = Field(
        ...,
        min_length=1,
        max_length=50,
        description="The conversation; the last message is the user's new question.",
    )
    top_k: TopK | None = None
    backend: str | None = Field(None, max_length=200)
    mode: Literal["auto", "answer", "timeline"] = Field(
        "auto",
        description='"timeline": dated events, oldest first, one cited sentence each; "answer": never a timeline; "auto": a timeline for "what happened with X" / "how did X unfold" questions.',
    )


class CitationPublic(BaseModel):
    n: int = Field(..., description="The marker number used in the answer text, [n].")
    doc_id: str
    title: str
    source: str
    published_at: str | None
    start: int = Field(..., description="Start of the supporting sentence in the article text (characters).")
    end: int = Field(..., description="End of the supporting sentence; article.text[start:end] == text.")
    text: str
    score: float = Field(
        ...,
        description="How strongly this sentence answers the question (0..1): relevance, its predicate and coverage.",
    )
    supported: bool = True
    support: float = Field(
        1.0, description="How strongly this span entails the answer sentence citing it (0..1)."
    )
    checks: dict[str, bool] = Field(
        default_factory=dict,
        description="The entailment checks run (entities, numbers, dates, polarity, roles, predicates, support, or verbatim) and whether each passed.",
    )
    why: list[str] = Field(default_factory=list, description="Why it is supported, in words.")

    @classmethod
    def of(cls, c: Citation) -> CitationPublic:
        return cls.model_validate(asdict(c))


class ShortAnswerPublic(BaseModel):
    text: str = Field(..., description="The exact answer, e.g. a name, a place, a date or a number.")
    doc_id: str
    start: int = Field(..., description="article.text[start:end] == text")
    end: int
    citation: int = Field(..., description="The marker number of the cited sentence it lies in.")


class SourceRefPublic(BaseModel):
    doc_id: str
    source: str
    published_at: str | None
    start: int = Field(..., description="Start of the sentence in the article text (characters).")
    end: int = Field(..., description="End of the sentence; article.text[start:end] == text.")
    text: str = ""
    title: str = ""
    citation: int | None = Field(
        None,
        description="Its marker number [n] when the answer cites it too (an update or an earlier report).",
    )


class SentenceSourcesPublic(BaseModel):
    sentence: str = Field(..., description="The answer sentence, without its marker.")
    citation: int = Field(..., description="The marker number of the sentence's citation, [n].")
    supported_by: list[SourceRefPublic] = Field(
        default_factory=list, description="Sentences of other articles that state the same fact."
    )
    contradicted_by: list[SourceRefPublic] = Field(
        default_factory=list, description="Sentences of other articles that state it differently."
    )
    origins: int = Field(
        1, description="Independent origins among the cited article and its supporters (copies count once)."
    )
    summary: str = Field("", description="In words: who reports it, copies, and where sources differ.")
    as_of: str | None = Field(
        None,
        description='Set when the sentence comes from an older article (newer coverage does not repeat it): the answer says "As of <date>:".',
    )
    updates: list[SourceRefPublic] = Field(
        default_factory=list,
        description="Newer articles that report this fact with another value; the answer leads with the newest (its citation).",
    )
    earlier: list[SourceRefPublic] = Field(
        default_factory=list,
        description="Older articles that reported this fact with another value (the earlier report; cited when the answer shows it).",
    )

    @classmethod
    def of(cls, s: SentenceSources) -> SentenceSourcesPublic:
        return cls.model_validate(asdict(s))


class TimelineEventPublic(BaseModel):
    date: str = Field(..., description="The article's publication date (ISO).")
    text: str = Field(..., description="The quoted sentence.")
    citation: int = Field(..., description="Its marker number [n].")


class AnswerPublic(BaseModel):
    answer: str = Field(
        ...,
        description="The answer with [n] citation markers, or a plain statement that the articles don't say.",
    )
    answered: bool
    citations: list[CitationPublic]
    backend: str
    timings_ms: dict[str, float]
    standalone_question: str = Field(
        "", description="The question as used for retrieval (condensed in a chat)."
    )
    unsupported: list[str] = Field(
        default_factory=list, description="Draft sentences dropped because no passage supports them."
    )
    short_answer: ShortAnswerPublic | None = Field(
        None, description="The exact answer inside a cited sentence, when the question asks for one."
    )
    confidence: float = Field(
        0.0,
        description="Calibrated probability that the answer is right (0..1); below QA_MIN_CONFIDENCE the answer is declined.",
    )
    sources: list[SentenceSourcesPublic] = Field(
        default_factory=list,
        description="Per answer sentence: which other articles state it or differ (QA_CORROBORATE).",
    )
    timeline: list[TimelineEventPublic] = Field(
        default_factory=list,
        description='Timeline answers: dated events, oldest first, deduplicated across outlets (mode "timeline").',
    )

    @classmethod
    def of(cls, a: Answer) -> AnswerPublic:
        return cls(
            short_answer=ShortAnswerPublic.model_validate(asdict(a.short_answer)) if a.short_answer else None,
            confidence=a.confidence,
            answer=a.answer,
            answered=a.answered,
            citations=[CitationPublic.of(c) for c in a.citations],
            backend=a.backend,
            timings_ms=a.timings_ms,
            standalone_question=a.standalone_question,
            unsupported=a.unsupported,
            sources=[SentenceSourcesPublic.of(s) for s in a.sources],
            timeline=[TimelineEventPublic.model_validate(asdict(e)) for e in a.timeline],
        )


class PassagePublic(BaseModel):
    doc_id: str
    title: str
    source: str
    published_at: str | None
    start: int
    end: int
    text: str
    score: float

    @classmethod
    def of(cls, p: Passage) -> PassagePublic:
        return cls.model_validate(asdict(p))  # chunk_id is internal: ignored


class SearchPublic(BaseModel):
    query: str
    results: list[PassagePublic]
    timings_ms: dict[str, float]


class HealthPublic(BaseModel):
    status: str
    index_loaded: bool
    documents: int
    chunks: int
    model: str
    backend: str
    retrieval: str
    hint: str | None = None


class ErrorPublic(BaseModel):
    detail: str = Field(..., description="What was wrong, in words.")
    error: str = Field(..., description="A stable error code, e.g. bad_question, index_not_built.")


class ArticleIn(BaseModel):
    """One article to add or replace; ``id`` defaults to a hash of the URL (or of the text)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
    title: str = Field("", max_length=1000)
    source: str = Field("", max_length=200)
    published_at: IsoDate | None = None
    url: str = Field("", max_length=4000)
    text: str = Field(
        ...,
        min_length=1,
        pattern=HAS_TEXT,
        description="The article text (not blank); citations quote it verbatim.",
    )


class DocumentsIn(BaseModel):
    """A batch of articles, written atomically (all or none)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[ArticleIn] = Field(..., min_length=1, max_length=1000)


class SkippedPublic(BaseModel):
    where: str
    reason: str


class IngestPublic(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    chunks_embedded: int
    chunks_reused: int
    skipped: list[SkippedPublic] = Field(default_factory=list)


class DocumentSummary(BaseModel):
    id: str
    title: str
    source: str
    published_at: str | None
    url: str
    chunk_count: int
    chars: int
    added_at: float
    updated_at: float

    @classmethod
    def of(cls, d: StoredDocument) -> DocumentSummary:
        """A stored document's listing entry: its metadata and its text's length (not its text)."""
        names = [name for name in DocumentSummary.model_fields if name != "chars"]
        return cls(**{name: getattr(d, name) for name in names}, chars=len(d.text))


class DocumentPublic(DocumentSummary):
    text: str


class DocumentPage(BaseModel):
    total: int
    offset: int
    limit: int
    documents: list[DocumentSummary]


class DeletedPublic(BaseModel):
    deleted: str
