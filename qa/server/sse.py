"""Server-Sent Events: the body of ``/ask/stream`` and ``/chat/stream``, and a response that frees its slot.

Where it sits: after :class:`qa.server.answering.Answering` has started a streamed
answer, :func:`sse_events` turns the pipeline's ``("token", text)`` and
``("final", Answer)`` events into ``token`` and ``final`` events; an error after
the stream started becomes one ``error`` event whose data is
:func:`qa.errors.error_body`, the same JSON a plain error answer carries.
:class:`SlotStreamingResponse` gives the answer's LLM slot back however the
stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool
from starlette.types import Receive, Scope, Send

from qa.errors import QAError, error_body
from qa.server.schemas import AnswerPublic

log = logging.getLogger("qa.api")
# No caching, and no buffering by a proxy (nginx honours X-Accel-Buffering): tokens arrive as made.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any) -> bytes:
    """One SSE event: ``event: NAME`` and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def sse_events(events: Iterator[tuple[str, Any]]) -> AsyncIterator[bytes]:
    """The SSE body; a client that leaves mid-stream stops the LLM's tokens being pulled."""
    try:
        async for kind, payload in iterate_in_threadpool(events):
            if kind == "token":
                yield sse("token", {"text": payload})
            else:
                yield sse("final", AnswerPublic.of(payload).model_dump())
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if not isinstance(exc, QAError):
            log.exception("stream failed")
        elif exc.status >= 500:
            log.warning("stream failed (%s): %s", exc.status, exc.message)
        yield sse("error", error_body(exc))
    finally:
        close_quietly(events)


def close_quietly(events: object) -> None:
    """Close a generator of events, if it is one (closing drops the provider's stream)."""
    with contextlib.suppress(Exception):
        close = getattr(events, "close", None)
        if close is not None:
            close()


class SlotStreamingResponse(StreamingResponse):
    """A stream that gives its LLM slot back however it ends: finished, failed, or its client gone
    (even before the body started, when the body generator never runs its ``finally``)."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None] | None, **kw: Any) -> None:
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
