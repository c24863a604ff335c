"""The integrations the HTTP app carries besides its own API, mounted in one place.

Why one place: :func:`qa.api.create_app` stays about qa's own routes and gains
two lines (build :class:`Integrations`, enter its lifespan); everything that
plugs qa into other tools is wired here:

* ``/v1/chat/completions`` and ``/v1/models`` (:mod:`qa.openai_compat`), with
  the same key, rate-limit and body-limit dependencies as ``/chat``;
* ``/mcp``, MCP over streamable HTTP (:mod:`qa.mcp_server`) when ``QA_MCP_HTTP``
  is on; its session manager runs for the app's lifetime;
* the feed poller (:mod:`qa.feeds`) when ``QA_FEEDS_POLL_INTERVAL_S`` is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, params
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from qa.config import Settings
from qa.mcp_server import mount_http
from qa.observability import Metrics
from qa.openai_compat import OpenAIErrors, openai_router
from qa.pipeline import Pipeline
from qa.security import Access, RateLimiter


class Integrations:
    """Mounts the integrations on ``app``; :meth:`lifespan` runs their background parts."""

    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        pipe: Callable[[], Pipeline],
        *,
        access: Access,
        limiter: RateLimiter,
        metrics: Metrics,
        questions: Sequence[params.Depends],
        reads: Sequence[params.Depends],
    ) -> None:
        self.settings = settings
        self.pipe = pipe
        app.include_router(openai_router(pipe, metrics, questions=questions, reads=reads))
        app.add_middleware(OpenAIErrors)
        self.mcp: StreamableHTTPSessionManager | None = None
        if settings.mcp_http:
            self.mcp = mount_http(app, settings, pipe, access=access, limiter=limiter)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the background parts (MCP sessions, the feed poller) while the app serves."""
        async with AsyncExitStack() as stack:
            if self.mcp is not None:
                await stack.enter_async_context(self.mcp.run())
            yield
