"""create_app(): the HTTP API, its one error handler, and the widget's static files.

Routes are thin: they validate with the schemas in :mod:`qa.schemas`, run the
pipeline's blocking work in the thread pool, and shape the response.  Every
``QAError`` becomes ``{"detail", "error"}`` with its status; validation errors
become a 422 with a readable ``detail``; anything else is logged and answered
with a generic 500 that never carries a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.config import Settings, get_settings
from qa.errors import QAError
from qa.generation import Turn
from qa.pipeline import Pipeline
from qa.retrieval import Filters
from qa.schemas import (
    AnswerPublic,
    AskRequest,
    ChatRequest,
    ErrorPublic,
    HealthPublic,
    PassagePublic,
    SearchPublic,
)

log = logging.getLogger("qa.api")
STATIC_DIR = Path(__file__).resolve().parent / "static"
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic} for status in (400, 401, 403, 404, 413, 422, 429, 502, 503)
}


def _error(status: int, detail: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "error": code}, status_code=status, headers=headers)


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The ASGI app.  ``pipeline`` lets tests share one loaded model across apps."""
    settings = settings or get_settings()
    state: dict[str, Pipeline] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["pipeline"] = pipeline or Pipeline(settings)
        # Load the model and index once, at start-up, off the event loop.
        await run_in_threadpool(state["pipeline"].warm_up)
        yield

    app = FastAPI(
        title="qa",
        summary="Cited answers over news articles.",
        description="Every claim in an answer cites the exact passage (document and character span) it came from.",
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["content-type", "x-api-key", "authorization", "x-request-id"],
            expose_headers=["retry-after", "x-request-id"],
        )

    def pipe() -> Pipeline:
        return state["pipeline"]

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
        if exc.status >= 500:
            log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.status, exc.message)
        return _error(exc.status, exc.message, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _readable(exc), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "http_error", getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal error; the server log has the details", "internal_error")

    # -- pages -----------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def demo() -> Response:
        page = STATIC_DIR / "demo.html"
        if page.exists():
            return FileResponse(page, media_type="text/html")
        return JSONResponse({"service": "qa", "docs": "/docs", "health": "/health"})

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> Response:
        script = STATIC_DIR / "widget.js"
        if not script.exists():
            return _error(404, "widget.js is not built into this installation", "not_found")
        return FileResponse(
            script, media_type="text/javascript", headers={"Cache-Control": "public, max-age=300"}
        )

    # -- API -------------------------------------------------------------------------

    @app.get("/health", response_model=HealthPublic, summary="Index, model and backend status")
    async def health() -> HealthPublic:
        return HealthPublic(**await run_in_threadpool(pipe().health))

    @app.get("/search", response_model=SearchPublic, summary="Top-k passages for a query")
    async def search(
        q: str = Query(..., description="The query."),
        k: int = Query(5, ge=1, le=50, description="How many passages."),
        source: list[str] = Query(default_factory=list, description="Only these sources (repeatable)."),
        published_after: date | None = Query(None),
        published_before: date | None = Query(None),
        as_of: date | None = Query(None, description="Exclude later articles, prefer recent ones."),
        mode: str | None = Query(None, pattern="^(hybrid|dense|bm25)$", description="Retrieval mode."),
    ) -> SearchPublic:
        filters = Filters(
            sources=tuple(source),
            published_after=published_after.isoformat() if published_after else None,
            published_before=published_before.isoformat() if published_before else None,
            as_of=as_of.isoformat() if as_of else None,
        )
        start = time.perf_counter()
        passages = await run_in_threadpool(pipe().search, q, k, filters=filters, mode=mode)  # type: ignore[arg-type]
        took = round((time.perf_counter() - start) * 1000, 2)
        return SearchPublic(
            query=q.strip(), results=[PassagePublic.of(p) for p in passages], timings_ms={"total_ms": took}
        )

    @app.post("/ask", response_model=AnswerPublic, summary="Answer a question with cited passages")
    async def ask(body: AskRequest) -> AnswerPublic:
        answer = await run_in_threadpool(
            pipe().ask, body.question, top_k=body.top_k, backend=body.backend, filters=body.filters()
        )
        return AnswerPublic.of(answer)

    @app.post("/chat", response_model=AnswerPublic, summary="Answer the last message of a conversation")
    async def chat(body: ChatRequest) -> AnswerPublic:
        question, history = _split_chat(body)
        answer = await run_in_threadpool(
            pipe().ask,
            question,
            top_k=body.top_k,
            backend=body.backend,
            filters=body.filters(),
            history=history,
        )
        return AnswerPublic.of(answer)

    async def stream(question: str, body: AskRequest | ChatRequest, history: list[Turn] | None) -> Response:
        # Validation, retrieval and the first backend call run before the response starts,
        # so their errors are ordinary 4xx/5xx JSON responses.
        events = await run_in_threadpool(
            pipe().ask_stream,
            question,
            top_k=body.top_k,
            backend=body.backend,
            filters=body.filters(),
            history=history,
        )
        return StreamingResponse(
            _sse_events(events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post(
        "/ask/stream",
        summary="Answer as Server-Sent Events: token events, then a final event with the verified answer",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def ask_stream(body: AskRequest) -> Response:
        return await stream(body.question, body, None)

    @app.post(
        "/chat/stream",
        summary="Chat as Server-Sent Events (see /ask/stream)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat_stream(body: ChatRequest) -> Response:
        question, history = _split_chat(body)
        return await stream(question, body, history)

    app.state.pipeline = pipe
    return app


def _split_chat(body: ChatRequest) -> tuple[str, list[Turn]]:
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


async def _sse_events(events: Iterator[tuple[str, Any]]) -> AsyncIterator[bytes]:
    try:
        async for kind, payload in iterate_in_threadpool(events):
            if kind == "token":
                yield _sse("token", {"text": payload})
            else:
                yield _sse("final", AnswerPublic.of(payload).model_dump())
    except QAError as exc:
        yield _sse("error", {"detail": exc.message, "error": exc.code})
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("stream failed")
        yield _sse(
            "error", {"detail": "internal error; the server log has the details", "error": "internal_error"}
        )
