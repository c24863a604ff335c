"""OpenAI-compatible chat on qa's own app: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Why: chat front-ends and programs that already speak OpenAI's API can talk to
qa by changing only their base URL.  The endpoint is a thin shape-shifter over
the same pipeline call as ``/chat``:

* ``messages`` is the conversation: system/developer/tool messages are dropped
  (qa's prompts are its own), the last user message is the question and the
  earlier user/assistant turns are the history that ``/chat`` condenses.  A
  "Sources" list that an earlier reply carried is cut from that turn first, so
  it doesn't leak into the condensed question.
* ``model`` is ``qa`` (the default backend) or a backend name that the server
  enables (``GET /v1/models`` lists them).
* The reply's ``content`` is the verified answer with its ``[n]`` markers and a
  short "Sources" list, so a UI that shows only text still shows the citations;
  the full answer (citations with spans, ``answered``, timings...) rides along in
  the extra ``qa`` field, which OpenAI clients ignore.
* ``stream: true`` answers with OpenAI's SSE chunks ending in ``data: [DONE]``.
  Only the *verified* answer is streamed: the backend's raw draft may hold
  sentences that verification drops, and an OpenAI client can't take text back.
* Keys, rate limits, body limits and LLM slots are the app's (the routes get
  the same dependencies as ``/chat`` and answer through the same
  :class:`~qa.server.answering.Answering`); :class:`OpenAIErrors` rewrites qa's
  ``{"detail", "error"}`` bodies under ``/v1/`` into OpenAI's
  ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import iterate_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.answer.backends import Turn
from qa.errors import BadQuestion, QAError, UnknownModel, error_body, error_status
from qa.server.answering import AnswerCall
from qa.server.context import ServerContext
from qa.server.schemas import AnswerPublic, CitationPublic, FilterFields
from qa.server.sse import SSE_HEADERS, SlotStreamingResponse
from qa.text import has_lone_surrogate
from qa.types import Answer

log = logging.getLogger("qa.openai_compat")
PREFIX = "/v1"
DEFAULT_MODEL = "qa"
SOURCES_HEADING = "Sources:"
MAX_MESSAGE_CHARS = 20_000  # as /chat
MAX_TURNS = 50  # user/assistant messages, as /chat
_WORDS_PER_CHUNK = 8


# -- schemas -----------------------------------------------------------------------------


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts carry anything qa reads."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(..., max_length=50)
    text: str | None = Field(None, max_length=MAX_MESSAGE_CHARS)


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: (
        Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
        | Annotated[list[ContentPart], Field(max_length=100)]
        | None
    ) = None

    @field_validator("content")
    @classmethod
    def _valid_unicode(cls, value: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(value, str) and has_lone_surrogate(value):
            raise ValueError("contains an unpaired UTF-16 surrogate (invalid Unicode)")
        return value

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        text = "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadQuestion(
                f"a message's text parts hold {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}"
            )
        if has_lone_surrogate(text):
            raise BadQuestion("message contains an unpaired UTF-16 surrogate (invalid Unicode)")
        return text


class ChatCompletionRequest(FilterFields):
    """OpenAI's request body; sampling options (temperature, max_tokens...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(DEFAULT_MODEL, max_length=200, description="`qa` or a backend from GET /v1/models.")
    messages: list[ChatMessageIn] = Field(
        ..., min_length=1, max_length=2 * MAX_TURNS, description="The conversation; the last is the question."
    )
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="Only one choice is produced.")
    top_k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve (qa extension).")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChoicePublic(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletionPublic(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChoicePublic]
    qa: AnswerPublic = Field(..., description="The full answer: citations with spans, answered, timings.")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(..., description="invalid_request_error, authentication_error, rate_limit_error...")
    param: str | None = None
    code: str | None = Field(None, description="qa's error code, e.g. model_not_found, rate_limited.")


class OpenAIErrorPublic(BaseModel):
    error: OpenAIErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorPublic} for status in (400, 401, 403, 404, 413, 422, 429, 502, 503)
}


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]


# -- content -----------------------------------------------------------------------------


def render_content(answer: AnswerPublic) -> str:
    """The answer text, then one "Sources" line per marker: ``[n] title (source, date)``."""
    if not answer.citations:
        return answer.answer
    lines = [answer.answer, "", SOURCES_HEADING]
    seen: set[int] = set()
    for c in sorted(answer.citations, key=lambda c: c.n):
        if c.n in seen:
            continue
        seen.add(c.n)
        lines.append(_source_line(c))
    return "\n".join(lines)


def _source_line(c: CitationPublic) -> str:
    about = ", ".join(part for part in (c.source, c.published_at) if part)
    return f"[{c.n}] {c.title or c.doc_id}" + (f" ({about})" if about else "")


def strip_sources(content: str) -> str:
    """An earlier reply without the Sources list this module appended to it."""
    head, sep, _ = content.partition(f"\n\n{SOURCES_HEADING}\n")
    return head if sep else content


def split_messages(messages: Sequence[ChatMessageIn]) -> tuple[str, list[Turn]]:
    """``(question, history)``: the last user message and the user/assistant turns before it."""
    turns = [(m.role, m.text()) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise BadQuestion("the last user or assistant message must be the user's question")
    if len(turns) > MAX_TURNS:
        raise BadQuestion(
            f"the conversation has {len(turns)} user/assistant messages; the limit is {MAX_TURNS}"
        )
    history = [Turn(role, strip_sources(text) if role == "assistant" else text) for role, text in turns[:-1]]
    return turns[-1][1], history


def _chunks(text: str) -> Iterator[str]:
    """Text in pieces of a few words (whitespace kept), so clients render it progressively."""
    words = re.findall(r"\S+\s*", text)
    lead = text[: len(text) - len(text.lstrip())]
    if lead:
        yield lead
    for i in range(0, len(words), _WORDS_PER_CHUNK):
        yield "".join(words[i : i + _WORDS_PER_CHUNK])


def _data(payload: Any) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


# -- errors ------------------------------------------------------------------------------

_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(status: int, message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error body for a status and qa's message and code."""
    kind = _ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class OpenAIErrors:
    """Pure ASGI middleware: under ``/v1/``, qa's ``{"detail", "error"}`` error bodies become OpenAI's.

    Sits outside the body limit and the routes, so every refusal (401, 413,
    422, 429, 404 for an unknown model, 5xx) gets one shape.  Status and headers
    (``Retry-After``, ``WWW-Authenticate``) are kept; success bodies and streams
    pass through untouched.
    """

    def __init__(self, app: ASGIApp, prefix: str = PREFIX + "/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def rewriting_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    await send(message)
                    return
                start = message  # held until the whole error body is in
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            new_body = self._convert(start["status"], bytes(body))
            headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(new_body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": new_body})

        await self.app(scope, receive, rewriting_send)

    @staticmethod
    def _convert(status: int, body: bytes) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            code = data.get("error") if isinstance(data.get("error"), str) else None
            param = "model" if code == UnknownModel.code else None
            return json.dumps(openai_error(status, data["detail"], code, param)).encode()
        return body


# -- routes ------------------------------------------------------------------------------


def openai_router(ctx: ServerContext) -> APIRouter:
    """The ``/v1`` routes, with the app's dependencies for /chat (``ctx.questions``) and reads."""
    router = APIRouter(prefix=PREFIX, tags=["OpenAI-compatible"], responses=ERROR_RESPONSES)
    started = int(time.time())

    def models() -> list[str]:
        settings = ctx.pipe().settings
        names = {"extractive", settings.backend, *settings.backends_allowed}
        return [DEFAULT_MODEL, *sorted(names)]

    def backend_for(model: str) -> str | None:
        if model == DEFAULT_MODEL:
            return None
        if model not in models():
            raise UnknownModel(
                f"the model {model!r} does not exist here; use one of: {', '.join(models())} (GET /v1/models)"
            )
        return model

    @router.get(
        "/models",
        response_model=ModelList,
        summary="Models: `qa` and the enabled backends",
        dependencies=list(ctx.reads),
    )
    async def list_models() -> ModelList:
        return ModelList(data=[ModelPublic(id=m, created=started) for m in models()])

    @router.post(
        "/chat/completions",
        response_model=ChatCompletionPublic,
        summary="OpenAI-compatible chat: the answer with [n] markers and Sources; citations in `qa`",
        responses={200: {"content": {"text/event-stream": {}}}},
        dependencies=list(ctx.questions),
    )
    async def chat_completions(
        request: Request, body: ChatCompletionRequest
    ) -> ChatCompletionPublic | SlotStreamingResponse:
        backend = backend_for(body.model)
        question, history = split_messages(body.messages)
        completion_id = "chatcmpl-" + uuid.uuid4().hex
        created = int(time.time())
        # The same path as /chat and /chat/stream: LLM slots, a client that leaves, metrics.
        call = AnswerCall(question, history, top_k=body.top_k, backend=backend, filters=body.filters())
        if not body.stream:
            public = AnswerPublic.of(await ctx.answers.answer(request, call))
            return ChatCompletionPublic(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[ChoicePublic(message=AssistantMessage(content=render_content(public)))],
                qa=public,
            )
        # Validation, retrieval and the first backend call run here, so their errors are plain 4xx/5xx.
        events, release = await ctx.answers.stream(request, call)
        head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
        }
        return SlotStreamingResponse(
            _stream(head, events), release=release, media_type="text/event-stream", headers=SSE_HEADERS
        )

    return router


async def _stream(head: dict[str, Any], events: Iterator[tuple[str, Any]]) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _data({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    yield chunk({"role": "assistant", "content": ""})
    try:
        final: Answer | None = None
        async for kind, payload in iterate_in_threadpool(events):
            if kind == "final":
                final = payload
        if final is None:
            raise RuntimeError("the answer ended without a final result")
        public = AnswerPublic.of(final)
        for piece in _chunks(render_content(public)):
            yield chunk({"content": piece})
        yield chunk({}, "stop", qa=public.model_dump())
    except Exception as exc:
        # The same words and code as qa's own error bodies: a 5xx never carries its detail.
        if not isinstance(exc, QAError):
            log.exception("stream failed")
        elif exc.status >= 500:
            log.warning("stream failed (%s): %s", exc.status, exc.message)
        body = error_body(exc)
        yield _data(openai_error(error_status(exc), body["detail"], body["error"]))
    yield b"data: [DONE]\n\n"
