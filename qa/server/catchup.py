"""The server's side of ``QA_ANNOTATE=deferred``: parse the backlog while no request is in flight.

:class:`Quiet` is ASGI middleware that brackets every HTTP request with
:meth:`qa.ingest.backlog.Catchup.busy` / ``idle``; :func:`start` makes the catch-up
thread for a pipeline (``None`` unless the setting is ``deferred``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from qa.ingest.backlog import SERVER_STEP, Catchup, annotate_pending
from qa.pipeline import Pipeline


def start(pipeline: Pipeline) -> Catchup | None:
    """The background parser of ``pipeline``'s backlog, started; ``None`` when ingest parses."""
    if pipeline.settings.annotate != "deferred":
        return None
    return Catchup(lambda: annotate_pending(pipeline, steps=1, step=SERVER_STEP), pipeline.backlog.count)


class Quiet:
    """Marks the server busy for the duration of each HTTP request (``holder()``: the running catch-up)."""

    def __init__(self, app: ASGIApp, holder: dict[str, Catchup | None]) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        catchup = self.holder.get("catchup") if scope["type"] == "http" else None
        if catchup is None:
            await self.app(scope, receive, send)
            return
        catchup.busy()
        try:
            await self.app(scope, receive, send)
        finally:
            catchup.idle()
