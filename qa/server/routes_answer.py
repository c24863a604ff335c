"""The question routes: ``/search``, and ``/ask``, ``/chat`` and their ``/stream`` forms.

The four answer routes differ only in how the question arrives (one question, or
a conversation whose last message is the question) and in how the answer leaves
(one JSON object, or Server-Sent Events).  :func:`answer_call` turns either body
into one :class:`~qa.server.answering.AnswerCall`, and :func:`respond` runs it
through the app's :class:`~qa.server.answering.Answering` and shapes the reply.
"""

from __future__ import annotations

import time
from typing import Literal, overload

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from qa.answer.backends import Turn
from qa.errors import PayloadTooLarge
from qa.server.answering import AnswerCall
from qa.server.context import ServerContext
from qa.server.schemas import (
    NOT_BLANK,
    AnswerPublic,
    AskRequest,
    ChatRequest,
    IsoDate,
    PassagePublic,
    SearchPublic,
    filters_of,
)
from qa.server.sse import SSE_HEADERS, SlotStreamingResponse, sse_events

STREAM_RESPONSES: dict[int | str, dict[str, object]] = {200: {"content": {"text/event-stream": {}}}}


def answer_call(body: AskRequest | ChatRequest, max_chat_chars: int) -> AnswerCall:
    """The pipeline call a body asks for: its question, a chat's earlier turns, and the options."""
    if isinstance(body, ChatRequest):
        question, history = split_chat(body, max_chat_chars)
    else:
        question, history = body.question, None
    mode = None if body.mode == "auto" else body.mode
    return AnswerCall(question, history, body.top_k, body.backend, body.filters(), mode)


def split_chat(body: ChatRequest, max_chars: int) -> tuple[str, list[Turn]]:
    """``(question, history)`` of a chat: 413 past QA_MAX_CHAT_CHARS, 422 unless the user speaks last."""
    total = sum(len(m.content) for m in body.messages)
    if total > max_chars:
        # One request buys one rate-limit token: its work must be bounded, not only each message.
        raise PayloadTooLarge(
            f"the conversation is {total} characters; the limit is {max_chars} (QA_MAX_CHAT_CHARS): "
            "send fewer or shorter earlier messages"
        )
    last = body.messages[-1]
    if last.role != "user":
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "messages"),
                    "msg": "the last message must be the user's question",
                    "type": "value_error",
                }
            ]
        )
    return last.content, [Turn(m.role, m.content) for m in body.messages[:-1]]


def add_answer_routes(router: APIRouter, ctx: ServerContext) -> None:
    """Add this module's routes, bound to one app's context, to ``router`` (the app's own).

    Added to the app's router rather than included as a router of their own: the
    405 ``Allow`` header and the metrics' route templates look the routes up there.
    """
    settings = ctx.settings

    @overload
    async def respond(
        request: Request, body: AskRequest | ChatRequest, *, stream: Literal[False]
    ) -> AnswerPublic: ...

    @overload
    async def respond(
        request: Request, body: AskRequest | ChatRequest, *, stream: Literal[True]
    ) -> Response: ...

    async def respond(
        request: Request, body: AskRequest | ChatRequest, *, stream: bool
    ) -> AnswerPublic | Response:
        """Every answer route's body: one call, answered as one JSON object or streamed as SSE."""
        call = answer_call(body, settings.max_chat_chars)
        if not stream:
            return AnswerPublic.of(await ctx.answers.answer(request, call))
        events, release = await ctx.answers.stream(request, call)
        return SlotStreamingResponse(
            sse_events(events), release=release, media_type="text/event-stream", headers=SSE_HEADERS
        )

    @router.get(
        "/search",
        response_model=SearchPublic,
        summary="Top-k passages for a query",
        dependencies=ctx.questions,
    )
    async def search(
        q: str = Query(
            ...,
            min_length=1,
            max_length=settings.max_question_chars,
            pattern=NOT_BLANK,
            description="The query (not blank; at most QA_MAX_QUESTION_CHARS characters).",
        ),
        k: int = Query(5, ge=1, le=50, description="How many passages."),
        source: list[str] = Query(default_factory=list, description="Only these sources (repeatable)."),
        published_after: IsoDate | None = Query(None),
        published_before: IsoDate | None = Query(None),
        as_of: IsoDate | None = Query(None, description="Exclude later articles, prefer recent ones."),
        mode: str | None = Query(None, pattern="^(hybrid|dense|bm25)$", description="Retrieval mode."),
    ) -> SearchPublic:
        filters = filters_of(source, published_after, published_before, as_of, drop_blank=False)
        start = time.perf_counter()
        passages = await run_in_threadpool(ctx.pipe().search, q, k, filters=filters, mode=mode)  # type: ignore[arg-type]
        took = round((time.perf_counter() - start) * 1000, 2)
        return SearchPublic(
            query=q.strip(), results=[PassagePublic.of(p) for p in passages], timings_ms={"total_ms": took}
        )

    @router.post(
        "/ask",
        response_model=AnswerPublic,
        summary="Answer a question with cited passages",
        dependencies=ctx.questions,
    )
    async def ask(request: Request, body: AskRequest) -> AnswerPublic:
        return await respond(request, body, stream=False)

    @router.post(
        "/chat",
        response_model=AnswerPublic,
        summary="Answer the last message of a conversation",
        dependencies=ctx.questions,
    )
    async def chat(request: Request, body: ChatRequest) -> AnswerPublic:
        return await respond(request, body, stream=False)

    @router.post(
        "/ask/stream",
        summary="Answer as Server-Sent Events: token events, then a final event with the verified answer",
        response_class=StreamingResponse,
        responses=STREAM_RESPONSES,
        dependencies=ctx.questions,
    )
    async def ask_stream(request: Request, body: AskRequest) -> Response:
        return await respond(request, body, stream=True)

    @router.post(
        "/chat/stream",
        summary="Chat as Server-Sent Events (see /ask/stream)",
        response_class=StreamingResponse,
        responses=STREAM_RESPONSES,
        dependencies=ctx.questions,
    )
    async def chat_stream(request: Request, body: ChatRequest) -> Response:
        return await respond(request, body, stream=True)
