"""create_app(): the HTTP API, its one error handler, and the widget's static files.

Routes are thin: they validate with the schemas in :mod:`qa.server.schemas`, run the
pipeline's blocking work in the thread pool, and shape the response.  Every
``QAError`` becomes ``{"detail", "error"}`` with its status; validation errors
become a 422 with a readable ``detail``; anything else is logged and answered
with a generic 500 that never carries a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from qa.answer.backends import Turn
from qa.answer.retrieve import Filters
from qa.config import Settings, get_settings
from qa.errors import BadDocument, ClientGone, NotFound, PayloadTooLarge, QAError, Unauthorized
from qa.ingest.load import (
    JSONL_SUFFIXES,
    SUPPORTED_SUFFIXES,
    Problem,
    article_from_dict,
    iter_jsonl,
    parse_text,
)
from qa.models.embedding import set_torch_threads
from qa.pipeline import Pipeline
from qa.server.integrations import Integrations
from qa.server.observability import CONTENT_TYPE_LATEST, Metrics, RequestContext
from qa.server.schemas import (
    HAS_TEXT,
    NOT_BLANK,
    AnswerPublic,
    ArticleIn,
    AskRequest,
    ChatRequest,
    DeletedPublic,
    DocumentPage,
    DocumentPublic,
    DocumentsIn,
    DocumentSummary,
    ErrorPublic,
    HealthPublic,
    IngestPublic,
    IsoDate,
    PassagePublic,
    SearchPublic,
    SkippedPublic,
)
from qa.server.security import WWW_AUTHENTICATE, Access, BodyLimit, RateLimiter
from qa.types import Article

log = logging.getLogger("qa.api")
STATIC_DIR = Path(__file__).resolve().parent / "static"
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic} for status in (400, 401, 403, 404, 413, 422, 429, 500, 502, 503)
}


def _error(status: int, detail: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "error": code}, status_code=status, headers=headers)


def _message(err: dict[str, Any]) -> str:
    # "String should match pattern '[^\t\n...]'" says nothing to a person: name the rule instead.
    if (err.get("type") == "string_too_short" and err.get("ctx", {}).get("min_length") == 1) or (
        err.get("type") == "string_pattern_mismatch"
        and err.get("ctx", {}).get("pattern") in (NOT_BLANK, HAS_TEXT)
    ):
        return "is empty or blank"
    return str(err.get("msg", "invalid"))


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {_message(err)}" if where else _message(err))
    return "; ".join(parts) or "invalid request"


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The ASGI app.  ``pipeline`` lets tests share one loaded model across apps."""
    settings = settings or get_settings()
    state: dict[str, Pipeline] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        set_torch_threads(settings.torch_threads or 1)
        state["pipeline"] = pipeline or Pipeline(settings)
        # Load the model and index once, at start-up, off the event loop.
        await run_in_threadpool(state["pipeline"].warm_up)
        async with integrations.lifespan():
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

    access = Access(
        settings.all_write_keys, settings.read_keys, failures_per_minute=settings.auth_failures_per_minute
    )
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst, keys=access)
    # LLM answers wait for a slot here, in the event loop, not in a worker thread: however many
    # wait, the thread pool keeps free threads for /health and the other routes.
    llm_slots = asyncio.Semaphore(settings.llm_concurrency)
    metrics = Metrics(lambda: pipe().stats() if "pipeline" in state else None)
    app.state.metrics = metrics
    writes = [Depends(access.write)]
    reads = [Depends(access.read)] if settings.require_key_for_reads else []
    questions = [*reads, Depends(limiter.dependency)]

    # Added first, so it runs inside CORS: a 413 still carries the CORS headers a browser needs.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["content-type", "x-api-key", "authorization", "x-request-id"],
            expose_headers=["retry-after", "x-request-id"],
        )
    # Outermost of ours: every response, 413s and CORS preflights included, gets an id and a metric.
    app.add_middleware(RequestContext, metrics=metrics)

    def pipe() -> Pipeline:
        return state["pipeline"]

    async def answer_work(request: Request, backend: str | None, work: Callable[[], Any]) -> Any:
        """Run an answer's blocking ``work`` in a worker thread, and stop waiting when the client leaves.

        With an LLM backend it first takes one of QA_LLM_CONCURRENCY slots (waiting in the
        event loop, so no thread is held); a request whose client leaves while it waits is
        dropped before any LLM call.  A thread can't be stopped, so work already running is
        abandoned: it keeps its slot until it ends (bounded by QA_LLM_TIMEOUT_S), which keeps
        the number of threads in LLM calls at QA_LLM_CONCURRENCY at most.
        """
        slots = llm_slots if (backend or settings.backend) != "extractive" else None
        if slots is not None:
            await _unless_disconnected(request, slots.acquire())
        running = asyncio.ensure_future(run_in_threadpool(work))
        if slots is not None:
            running.add_done_callback(lambda _: slots.release())
        return await _unless_disconnected(request, running)

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": WWW_AUTHENTICATE}
        if exc.status >= 500:
            # The detail (paths, provider replies) is for the operator: the client gets exc.public.
            log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.status, exc.message)
        return _error(exc.status, exc.public, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _readable(exc), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route that matched the path only;
            # /documents (GET and POST) and /documents/{doc_id} (GET and DELETE) are two routes each.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(app, request))}
        return _error(exc.status_code, str(exc.detail), "http_error", headers)

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

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        # Rendering reads the index stats (SQLite): keep it off the event loop.
        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/search", response_model=SearchPublic, summary="Top-k passages for a query", dependencies=questions
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
        filters = Filters.of(source, published_after, published_before, as_of)
        start = time.perf_counter()
        passages = await run_in_threadpool(pipe().search, q, k, filters=filters, mode=mode)  # type: ignore[arg-type]
        took = round((time.perf_counter() - start) * 1000, 2)
        return SearchPublic(
            query=q.strip(), results=[PassagePublic.of(p) for p in passages], timings_ms={"total_ms": took}
        )

    @app.post(
        "/ask",
        response_model=AnswerPublic,
        summary="Answer a question with cited passages",
        dependencies=questions,
    )
    async def ask(request: Request, body: AskRequest) -> AnswerPublic:
        answer = await answer_work(
            request,
            body.backend,
            lambda: pipe().ask(body.question, top_k=body.top_k, backend=body.backend, filters=body.filters()),
        )
        metrics.record_answer(answer)
        return AnswerPublic.of(answer)

    @app.post(
        "/chat",
        response_model=AnswerPublic,
        summary="Answer the last message of a conversation",
        dependencies=questions,
    )
    async def chat(request: Request, body: ChatRequest) -> AnswerPublic:
        question, history = _split_chat(body, settings.max_chat_chars)
        answer = await answer_work(
            request,
            body.backend,
            lambda: pipe().ask(
                question, top_k=body.top_k, backend=body.backend, filters=body.filters(), history=history
            ),
        )
        metrics.record_answer(answer)
        return AnswerPublic.of(answer)

    async def stream(
        request: Request, question: str, body: AskRequest | ChatRequest, history: list[Turn] | None
    ) -> Response:
        # Validation, retrieval and the first backend call run before the response starts,
        # so their errors are ordinary 4xx/5xx JSON responses.
        slots = llm_slots if (body.backend or settings.backend) != "extractive" else None
        if slots is not None:
            await _unless_disconnected(request, slots.acquire())
        running = asyncio.ensure_future(
            run_in_threadpool(
                pipe().ask_stream,
                question,
                top_k=body.top_k,
                backend=body.backend,
                filters=body.filters(),
                history=history,
            )
        )
        try:
            events = await _unless_disconnected(request, running)
        except BaseException:
            # Failed, or abandoned by its client: the slot comes back when the work ends (now, or
            # when the running first call does), and a stream nobody will read is closed.
            def done(work: asyncio.Future[Any]) -> None:
                if slots is not None:
                    slots.release()
                if not work.cancelled() and work.exception() is None:
                    with contextlib.suppress(Exception):
                        work.result().close()

            running.add_done_callback(done)
            raise
        return _SlotStreamingResponse(
            _sse_events(metrics.count_final(events)),
            release=slots.release if slots is not None else None,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post(
        "/ask/stream",
        summary="Answer as Server-Sent Events: token events, then a final event with the verified answer",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
        dependencies=questions,
    )
    async def ask_stream(request: Request, body: AskRequest) -> Response:
        return await stream(request, body.question, body, None)

    @app.post(
        "/chat/stream",
        summary="Chat as Server-Sent Events (see /ask/stream)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
        dependencies=questions,
    )
    async def chat_stream(request: Request, body: ChatRequest) -> Response:
        question, history = _split_chat(body, settings.max_chat_chars)
        return await stream(request, question, body, history)

    # -- documents -------------------------------------------------------------------

    def _ingested(report: Any, skipped: list[Any] | None = None) -> IngestPublic:
        metrics.record_ingest(report, len(skipped or []))
        return IngestPublic(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            chunks_embedded=report.chunks_embedded,
            chunks_reused=report.chunks_reused,
            skipped=[SkippedPublic(where=p.where, reason=p.reason) for p in skipped or []],
        )

    @app.post(
        "/documents",
        response_model=IngestPublic,
        status_code=201,
        summary="Add or replace articles (one, or a batch as {documents: [...]}); unchanged text is not re-embedded",
        dependencies=writes,
    )
    async def add_documents(body: ArticleIn | DocumentsIn) -> IngestPublic:
        items = body.documents if isinstance(body, DocumentsIn) else [body]
        articles = [_article(item) for item in items]
        report = await run_in_threadpool(pipe().add_articles, articles)
        return _ingested(report)

    @app.post(
        "/documents/upload",
        response_model=IngestPublic,
        status_code=201,
        summary="Upload a .txt, .md, .html or .jsonl file of articles",
        dependencies=writes,
    )
    async def upload_documents(
        file: UploadFile | str = File(..., description="a .txt, .md, .html or .jsonl file"),
    ) -> IngestPublic:
        if isinstance(file, str):
            # A part without a file name arrives as a form field, already decoded (as UTF-8, or
            # Latin-1 when it isn't): read it as an unnamed file of that text.
            filename, data = "", file.encode("utf-8", "surrogatepass")
        else:
            filename, data = file.filename or "", await file.read()
        articles, skipped = await run_in_threadpool(parse_upload, filename, data)
        if not articles:
            reasons = "; ".join(str(p) for p in skipped[:5]) or "no articles found"
            metrics.record_ingest(None, len(skipped))
            raise BadDocument(f"nothing ingested from {filename or 'the upload'!r}: {reasons}")
        report = await run_in_threadpool(pipe().add_articles, articles)
        return _ingested(report, skipped)

    @app.get(
        "/documents", response_model=DocumentPage, summary="List documents (paginated)", dependencies=reads
    )
    async def list_documents(
        offset: int = Query(0, ge=0, le=10_000_000),
        limit: int = Query(50, ge=1, le=500),
        source: str | None = Query(None, max_length=200),
    ) -> DocumentPage:
        total, docs = await run_in_threadpool(
            pipe().list_documents, offset=offset, limit=limit, source=source
        )
        return DocumentPage(total=total, offset=offset, limit=limit, documents=[_summary(d) for d in docs])

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentPublic,
        summary="One document with its text",
        dependencies=reads,
    )
    async def get_document(doc_id: str) -> DocumentPublic:
        d = await run_in_threadpool(pipe().get_document, doc_id)
        return DocumentPublic(**_summary(d).model_dump(), text=d.text)

    @app.delete(
        "/documents/{doc_id}",
        response_model=DeletedPublic,
        summary="Delete a document and its chunks",
        dependencies=writes,
    )
    async def delete_document(doc_id: str) -> DeletedPublic:
        deleted = await run_in_threadpool(pipe().delete, [doc_id])
        if not deleted:
            raise NotFound(f"no document with id {doc_id!r}")
        return DeletedPublic(deleted=doc_id)

    # OpenAI-compatible /v1, MCP at /mcp, the feed poller (see qa.server.integrations).
    integrations = Integrations(
        app, settings, pipe, access=access, limiter=limiter, metrics=metrics, questions=questions, reads=reads
    )

    def openapi() -> dict[str, Any]:
        # The question limit is a setting: the schema states the one this server enforces.
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
            question["maxLength"] = settings.max_question_chars
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.pipeline = pipe
    return app


def _article(item: ArticleIn) -> Article:
    doc_id = (
        item.id
        or "doc-" + hashlib.sha1((item.url or item.text).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    )
    data = item.model_dump()
    data.update(id=doc_id, published_at=item.published_at.isoformat() if item.published_at else None)
    return article_from_dict(data)


def _summary(d: Any) -> DocumentSummary:
    return DocumentSummary(
        id=d.id,
        title=d.title,
        source=d.source,
        published_at=d.published_at,
        url=d.url,
        chunk_count=d.chunk_count,
        chars=len(d.text),
        added_at=d.added_at,
        updated_at=d.updated_at,
    )


def parse_upload(filename: str, data: bytes) -> tuple[list[Article], list[Problem]]:
    """Articles from an uploaded file's bytes; bad JSONL lines become Problems.

    A file name is optional (a multipart part need not carry one, and the schema
    doesn't require it): without a suffix, a body whose first line is a JSON
    object is read as JSONL, anything else as text.
    """
    name = Path(filename.replace("\\", "/")).name if filename else ""
    suffix = Path(name).suffix.lower()
    if not suffix:
        suffix = ".jsonl" if data.lstrip()[:1] == b"{" else ".txt"
        name = f"{name or 'upload'}{suffix}"
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadDocument(f"unsupported file type {suffix!r}: upload .txt, .md, .html or .jsonl")
    if not data.strip():
        raise BadDocument(f"{name}: file is empty")
    if b"\x00" in data[:8192]:
        raise BadDocument(f"{name}: file looks binary (contains NUL bytes)")
    if suffix in JSONL_SUFFIXES:
        articles: list[Article] = []
        problems: list[Problem] = []
        for item in iter_jsonl(name, data.splitlines()):
            (problems if isinstance(item, Problem) else articles).append(item)  # type: ignore[arg-type]
        return articles, problems
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"{name}: not valid UTF-8 (byte {exc.start}); convert the file to UTF-8") from exc
    return [parse_text(name, text, suffix)], []


def _split_chat(body: ChatRequest, max_chars: int) -> tuple[str, list[Turn]]:
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


class _SlotStreamingResponse(StreamingResponse):
    """A stream that gives its LLM slot back however it ends: finished, failed, or its client gone
    (even before the body started, when the body generator never runs its ``finally``)."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None] | None, **kw: Any) -> None:
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


async def _sse_events(events: Iterator[tuple[str, Any]]) -> AsyncIterator[bytes]:
    """The SSE body; a client that leaves mid-stream stops the LLM's tokens being pulled."""
    try:
        async for kind, payload in iterate_in_threadpool(events):
            if kind == "token":
                yield _sse("token", {"text": payload})
            else:
                yield _sse("final", AnswerPublic.of(payload).model_dump())
    except QAError as exc:
        if exc.status >= 500:
            log.warning("stream failed (%s): %s", exc.status, exc.message)
        yield _sse("error", {"detail": exc.public, "error": exc.code})
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("stream failed")
        yield _sse(
            "error", {"detail": "internal error; the server log has the details", "error": "internal_error"}
        )
    finally:
        # A client that left mid-stream: stop pulling the LLM's tokens (closing the generator
        # drops the provider's stream).
        with contextlib.suppress(Exception):
            close = getattr(events, "close", None)
            if close is not None:
                close()


async def _client_left(request: Request) -> None:
    """Returns when the client has disconnected (the request body has been read by then)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _unless_disconnected(request: Request, awaitable: Awaitable[Any]) -> Any:
    """``await awaitable``, unless the client disconnects first: then ``ClientGone`` (499).

    A waiting ``awaitable`` (a semaphore) is cancelled; a running one (work in a thread)
    is left to finish on its own, since a thread can't be interrupted.
    """
    work = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_client_left(request))
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if work.done():
        return work.result()
    work.cancel()
    # Whatever the abandoned work ends with, nobody will read it: retrieve it so it isn't reported.
    work.add_done_callback(lambda f: f.cancelled() or f.exception())
    log.info("%s %s: client disconnected; answer abandoned", request.method, request.url.path)
    raise ClientGone("the client disconnected before the answer was ready")


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at the request's path (for a 405's Allow header)."""
    concrete: set[str] = set()
    templated: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute | Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match in (Match.FULL, Match.PARTIAL):  # PARTIAL: the path matches, the method doesn't
                (templated if route.param_convertors else concrete).update(route.methods)
    # OpenAPI's rule: a concrete path (/documents/upload) is matched before a templated one
    # (/documents/{doc_id}), so its methods are the resource's.
    return sorted(concrete or templated)
