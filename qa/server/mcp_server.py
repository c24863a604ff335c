"""qa as an MCP server: search, ask and document lookup as tools for agents.

Why: agents that call tools over the Model Context Protocol can use qa without
learning its HTTP API.  The tools are built with the maintained ``mcp`` SDK
(``MCPServer``): each is a typed function, so its JSON-schema input comes from
its annotations and its structured result from the same response models as
the HTTP API (:mod:`qa.server.schemas`), citations and their spans included.

* ``search``: the top passages for a query (``SearchPublic``);
* ``ask``: a verified answer with ``[n]`` markers and citations (``AnswerPublic``);
* ``get_document``: a document's metadata and its text, or a span of it, so an
  agent can read around a citation (``article.text[start:end]``);
* ``list_documents``: a page of document summaries.

Two transports: stdio (``qa mcp``: one process per client, started by the
client) and streamable HTTP at ``/mcp`` on the running server
(:func:`mount_http`), behind the same API keys and rate limit as ``/chat``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.config import Settings
from qa.errors import BadRequest, QAError, error_body
from qa.pipeline import Pipeline
from qa.server.handlers import error_response
from qa.server.schemas import (
    AnswerPublic,
    DocumentPage,
    DocumentSummary,
    PassagePublic,
    SearchPublic,
    filters_of,
)
from qa.server.security import API_KEY_HEADER, Access, RateLimiter

log = logging.getLogger("qa.mcp")
PATH = "/mcp"
INSTRUCTIONS = (
    "qa answers questions about a collection of news articles. Use `ask` for an answer whose every "
    "sentence cites the exact passage it came from (or that says the articles don't say); `search` for "
    "the raw passages; `get_document` to read an article or the span a citation points at."
)

Question = Annotated[
    str, Field(min_length=1, max_length=4000, description="The question, in plain language.")
]
Sources = Annotated[list[str], Field(max_length=50, description="Only articles from these sources.")]
After = Annotated[date | None, Field(description="Only articles published on or after this date.")]
Before = Annotated[date | None, Field(description="Only articles published on or before this date.")]
AsOf = Annotated[
    date | None,
    Field(description="Answer as of this date: later articles are excluded, recent ones preferred."),
]


class DocumentText(DocumentSummary):
    """A document's metadata and ``text`` = ``article.text[start:end]``."""

    start: int = Field(..., description="Offset of `text` in the article (characters).")
    end: int = Field(..., description="End of `text` in the article (characters).")
    text: str


def _tool_error(exc: QAError) -> ToolError:
    # A ToolError is reported to the client as an error result with this text, and logged at info;
    # anything else would be logged as an unexpected exception with its traceback.  The text is the
    # HTTP API's error body: a 5xx's detail (a path, a provider's reply) goes to the log only.
    if exc.status >= 500:
        log.warning("tool failed (%s): %s", exc.status, exc.message)
    body = error_body(exc)
    return ToolError(f"{body['detail']} ({body['error']})")


def build_server(pipe: Callable[[], Pipeline]) -> MCPServer:
    """The MCP server with qa's tools; ``pipe`` returns the (shared, loaded) pipeline."""
    # MCPServer() calls logging.basicConfig: keep the root logger as qa configured it (or didn't).
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    server = MCPServer("qa", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")
    root.setLevel(level)
    root.handlers[:] = handlers

    @server.tool(title="Search the articles")
    def search(
        query: Question,
        k: Annotated[int, Field(ge=1, le=50, description="How many passages.")] = 5,
        sources: Sources = [],  # noqa: B006 (pydantic copies defaults)
        published_after: After = None,
        published_before: Before = None,
        as_of: AsOf = None,
    ) -> SearchPublic:
        """The passages that best match a query, each with its document, character span and score."""
        try:
            passages = pipe().search(
                query, k, filters=filters_of(sources, published_after, published_before, as_of)
            )
        except QAError as exc:
            raise _tool_error(exc) from exc
        return SearchPublic(
            query=query.strip(), results=[PassagePublic.of(p) for p in passages], timings_ms={}
        )

    @server.tool(title="Answer a question with citations")
    def ask(
        question: Question,
        top_k: Annotated[int | None, Field(ge=1, le=50, description="Passages to retrieve.")] = None,
        sources: Sources = [],  # noqa: B006
        published_after: After = None,
        published_before: Before = None,
        as_of: AsOf = None,
    ) -> AnswerPublic:
        """Answer from the articles: every sentence carries an [n] marker whose citation gives the
        document and the character span of the supporting sentence; `answered` is false (and the
        answer says so) when the articles don't say."""
        try:
            answer = pipe().ask(
                question, top_k=top_k, filters=filters_of(sources, published_after, published_before, as_of)
            )
        except QAError as exc:
            raise _tool_error(exc) from exc
        return AnswerPublic.of(answer)

    @server.tool(title="Read a document or a span of it")
    def get_document(
        doc_id: Annotated[str, Field(min_length=1, max_length=200, description="The document id.")],
        start: Annotated[int, Field(ge=0, description="First character to return.")] = 0,
        end: Annotated[
            int | None, Field(ge=0, description="End of the text to return (default: the whole article).")
        ] = None,
    ) -> DocumentText:
        """A document's metadata and its text, or the span ``text[start:end]`` (a citation's start and
        end give exactly the cited sentence)."""
        try:
            d = pipe().get_document(doc_id)
            stop = len(d.text) if end is None else min(end, len(d.text))
            if start > stop:
                raise BadRequest(f"start {start} is after end {stop}")
        except QAError as exc:
            raise _tool_error(exc) from exc
        return DocumentText(
            **DocumentSummary.of(d).model_dump(), start=start, end=stop, text=d.text[start:stop]
        )

    @server.tool(title="List documents")
    def list_documents(
        offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
        source: Annotated[str | None, Field(max_length=200, description="Only this source.")] = None,
    ) -> DocumentPage:
        """A page of the stored documents (id, title, source, date, size), newest additions last."""
        try:
            total, docs = pipe().list_documents(offset=offset, limit=limit, source=source)
        except QAError as exc:
            raise _tool_error(exc) from exc
        return DocumentPage(
            total=total,
            offset=offset,
            limit=limit,
            documents=[DocumentSummary.of(d) for d in docs],
        )

    return server


# -- stdio -------------------------------------------------------------------------------


async def run_stdio(pipeline: Pipeline) -> None:
    """Serve the tools over stdin/stdout until the client closes them (``qa mcp``)."""
    await build_server(lambda: pipeline).run_stdio_async()


# -- streamable HTTP on the app ----------------------------------------------------------


class _Guard:
    """ASGI wrapper of ``/mcp``: the app's key check (when reads need a key) and rate limit.

    Each POST is one JSON-RPC message (a tool call, a listing), so each takes one
    token, as one ``/chat`` request does; the GET event stream and the DELETE that
    ends a session don't.
    """

    def __init__(self, app: ASGIApp, access: Access, limiter: RateLimiter, require_key: bool) -> None:
        self.app = app
        self.access = access
        self.limiter = limiter
        self.require_key = require_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            try:
                if self.require_key:
                    await self.access.read(request, request.headers.get(API_KEY_HEADER), _bearer(request))
                if scope["method"] == "POST":
                    await self.limiter.dependency(request)
            except QAError as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip())
    return None


def mount_http(
    app: FastAPI,
    settings: Settings,
    pipe: Callable[[], Pipeline],
    *,
    access: Access,
    limiter: RateLimiter,
) -> StreamableHTTPSessionManager:
    """Serve the tools at ``/mcp`` on ``app``; the returned manager's ``run()`` must span the app's life.

    Stateless (each request stands alone: no session affinity needed behind a
    load balancer) with plain JSON responses.  DNS-rebinding protection is the
    SDK's: on for a server bound to localhost, with ``QA_MCP_ALLOWED_HOSTS``
    adding the host names a proxy forwards.
    """
    security = None
    if settings.mcp_allowed_hosts:
        hosts = [*settings.mcp_allowed_hosts, "127.0.0.1:*", "localhost:*", "[::1]:*"]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
        )
    server = build_server(pipe)
    # Builds the session manager; its Starlette app is not used: the endpoint is mounted on ours.
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=settings.max_body_bytes,
        transport_security=security,
        host=settings.host,
    )
    manager = server.session_manager
    guarded = _Guard(StreamableHTTPASGIApp(manager), access, limiter, settings.require_key_for_reads)
    app.router.routes.append(Route(PATH, endpoint=guarded, include_in_schema=False))
    return manager
