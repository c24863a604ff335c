"""The integrations the HTTP app carries besides its own API, mounted in one place.

Why one place: :func:`qa.server.app.create_app` stays about qa's own routes and gains
two lines (build :class:`Integrations`, enter its lifespan); everything that
plugs qa into other tools is wired here:

* ``/v1/chat/completions`` and ``/v1/models`` (:mod:`qa.server.openai_compat`), with
  the same key, rate-limit and body-limit dependencies as ``/chat``;
* ``/mcp``, MCP over streamable HTTP (:mod:`qa.server.mcp_server`) when ``QA_MCP_HTTP``
  is on; its session manager runs for the app's lifetime;
* the feed poller (:mod:`qa.ingest.feeds`) when ``QA_FEEDS_POLL_INTERVAL_S`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.concurrency import run_in_threadpool

from qa.ingest.embed import IngestReport
from qa.ingest.feeds import FeedReader
from qa.server.context import ServerContext
from qa.server.mcp_server import mount_http
from qa.server.openai_compat import OpenAIErrors, openai_router
from qa.types import Article

log = logging.getLogger("qa.feeds")


class Integrations:
    """Mounts the integrations on ``app``; :meth:`lifespan` runs their background parts."""

    def __init__(self, app: FastAPI, ctx: ServerContext) -> None:
        self.settings = ctx.settings
        self.pipe = ctx.pipe
        self.metrics = ctx.metrics
        app.include_router(openai_router(ctx))
        app.add_middleware(OpenAIErrors)
        self.mcp: StreamableHTTPSessionManager | None = None
        if ctx.settings.mcp_http:
            self.mcp = mount_http(app, ctx.settings, ctx.pipe, access=ctx.access, limiter=ctx.limiter)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the background parts (MCP sessions, the feed poller) while the app serves."""
        async with AsyncExitStack() as stack:
            if self.mcp is not None:
                await stack.enter_async_context(self.mcp.run())
            if self.settings.feeds_poll_interval_s > 0:
                reader = FeedReader(self.settings, self._ingest)
                task = asyncio.create_task(self._poll_feeds_forever(reader), name="qa-feeds")

                async def stop() -> None:
                    # A poll in its thread can't be cancelled: tell it to stop after the current item.
                    reader.stop()
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    reader.close()

                stack.push_async_callback(stop)
            yield

    def _ingest(self, articles: Sequence[Article]) -> IngestReport:
        report = self.pipe().add_articles(articles)
        self.metrics.record_ingest(report)
        return report

    async def _poll_feeds_forever(self, reader: FeedReader) -> None:
        """Poll every feed now and then every QA_FEEDS_POLL_INTERVAL_S; failures are logged, never fatal."""
        while True:
            try:
                for report in await run_in_threadpool(reader.poll):
                    log.log(logging.INFO if report.ok else logging.WARNING, "feed %s", report.summary())
                    for link, reason in report.problems:
                        log.warning("feed item %s skipped: %s", link, reason)
            except Exception:
                log.exception("feed poll failed")
            await asyncio.sleep(self.settings.feeds_poll_interval_s)
