"""create_app(): the HTTP API's assembly: middleware, error handlers, routers, integrations.

Where it sits: the outermost stage.  A request passes the middleware (request id
and access log, CORS, the body-size limit), the key and rate-limit dependencies
(:mod:`qa.server.security`), then one route:

* :mod:`qa.server.routes_site`       the demo page, ``/widget.js``, ``/health``, ``/metrics``
* :mod:`qa.server.routes_answer`     ``/search``, ``/ask``, ``/chat`` and their streams, through
  :mod:`qa.server.answering` (LLM slots, client gone) and :mod:`qa.server.sse`
* :mod:`qa.server.routes_documents`  add, upload, list, read and delete articles
* :mod:`qa.server.integrations`      ``/v1`` (OpenAI-compatible), ``/mcp``, the feed poller

Routes are thin: they validate with :mod:`qa.server.schemas`, run the pipeline's
blocking work in the thread pool, and shape the response.  Every error answer
is built by :mod:`qa.server.handlers` from :func:`qa.errors.error_body`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from qa.config import Settings, get_settings
from qa.ingest.backlog import Catchup
from qa.models.embedding import set_torch_threads
from qa.pipeline import Pipeline
from qa.server import catchup
from qa.server.answering import Answering
from qa.server.body_limit import BodyLimit
from qa.server.context import ServerContext
from qa.server.handlers import install_error_handlers
from qa.server.integrations import Integrations
from qa.server.observability import Metrics, RequestContext
from qa.server.routes_answer import add_answer_routes
from qa.server.routes_documents import add_documents_routes
from qa.server.routes_site import add_site_routes
from qa.server.schemas import ErrorPublic
from qa.server.security import Access, RateLimiter

__all__ = ["create_app"]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic} for status in (400, 401, 403, 404, 413, 422, 429, 500, 502, 503)
}


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The ASGI app.  ``pipeline`` lets tests share one loaded model across apps."""
    settings = settings or get_settings()
    state: dict[str, Pipeline] = {}
    background: dict[str, Catchup | None] = {}

    def pipe() -> Pipeline:
        return state["pipeline"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        set_torch_threads(settings.torch_threads or 1)
        state["pipeline"] = pipeline or Pipeline(settings)
        # Load the model and index once, at start-up, off the event loop.
        await run_in_threadpool(state["pipeline"].warm_up)
        background["catchup"] = catchup.start(state["pipeline"])  # QA_ANNOTATE=deferred's parses
        try:
            async with integrations.lifespan():
                yield
        finally:
            if (running := background.pop("catchup", None)) is not None:
                await run_in_threadpool(running.close)

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
    metrics = Metrics(lambda: pipe().stats() if "pipeline" in state else None)
    app.state.metrics = metrics
    reads = [Depends(access.read)] if settings.require_key_for_reads else []
    ctx = ServerContext(
        settings=settings,
        pipe=pipe,
        metrics=metrics,
        access=access,
        limiter=limiter,
        answers=Answering(settings, pipe, metrics),
        reads=reads,
        writes=[Depends(access.write)],
        questions=[*reads, Depends(limiter.dependency)],
    )

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
    app.add_middleware(catchup.Quiet, holder=background)  # no background parsing during a request
    # Outermost of ours: every response, 413s and CORS preflights included, gets an id and a metric.
    app.add_middleware(RequestContext, metrics=metrics)
    install_error_handlers(app)

    add_site_routes(app.router, ctx)
    add_answer_routes(app.router, ctx)
    add_documents_routes(app.router, ctx)
    # OpenAI-compatible /v1, MCP at /mcp, the feed poller (see qa.server.integrations).
    integrations = Integrations(app, ctx)

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
