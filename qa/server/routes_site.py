"""The pages (the demo at ``/``, ``/widget.js``) and the operator's routes (``/health``, ``/metrics``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from qa.errors import NotFound
from qa.server.context import ServerContext
from qa.server.observability import CONTENT_TYPE_LATEST
from qa.server.schemas import HealthPublic

STATIC_DIR = Path(__file__).resolve().parent / "static"


def add_site_routes(router: APIRouter, ctx: ServerContext) -> None:
    """Add this module's routes, bound to one app's context, to ``router`` (the app's own).

    Added to the app's router rather than included as a router of their own: the
    405 ``Allow`` header and the metrics' route templates look the routes up there.
    """

    @router.get("/", include_in_schema=False)
    async def demo() -> Response:
        page = STATIC_DIR / "demo.html"
        if page.exists():
            return FileResponse(page, media_type="text/html")
        return JSONResponse({"service": "qa", "docs": "/docs", "health": "/health"})

    @router.get("/widget.js", include_in_schema=False)
    async def widget() -> Response:
        script = STATIC_DIR / "widget.js"
        if not script.exists():
            raise NotFound("widget.js is not built into this installation")
        return FileResponse(
            script, media_type="text/javascript", headers={"Cache-Control": "public, max-age=300"}
        )

    @router.get("/health", response_model=HealthPublic, summary="Index, model and backend status")
    async def health() -> HealthPublic:
        return HealthPublic(**await run_in_threadpool(ctx.pipe().health))

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        # Rendering reads the index stats (SQLite): keep it off the event loop.
        return Response(await run_in_threadpool(ctx.metrics.render), media_type=CONTENT_TYPE_LATEST)
