"""BodyLimit: a pure ASGI middleware that answers 413 for request bodies over ``QA_MAX_BODY_BYTES``.

Where it sits: inside CORS and the request-id middleware, outside the routes, so an
oversized body is refused before any route reads it, with the same JSON as every
other error (:func:`qa.errors.error_body`).
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.errors import PayloadTooLarge, error_body

log = logging.getLogger("qa.security")


class BodyLimit:
    """Pure ASGI middleware: 413 JSON for request bodies larger than ``max_bytes``.

    A ``Content-Length`` over the limit is refused before the app runs.  Bodies
    without one (chunked) are counted as they arrive; once over the limit the
    app's ``receive`` raises, whatever response the app then tries to send is
    dropped, and the 413 is sent instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request body too large: the limit is {self.max_bytes} bytes (QA_MAX_BODY_BYTES)"
        )

    async def _send_413(self, send: Send) -> None:
        exc = self._too_large()
        body = json.dumps(error_body(exc)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": exc.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The unread rest of the body makes the connection unusable for another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break  # the server rejects malformed lengths itself; count the bytes instead
                if declared > self.max_bytes:
                    log.info("refused %s %s: body of %d bytes", scope["method"], scope["path"], declared)
                    await self._send_413(send)
                    return
                break

        received = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    tripped = True
                    raise self._too_large()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped and not started:
                return  # the app's answer to the aborted read (often a 400) is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not tripped or started:
                raise
        if tripped and not started:
            log.info("refused %s %s: body over %d bytes", scope["method"], scope["path"], self.max_bytes)
            await self._send_413(send)
