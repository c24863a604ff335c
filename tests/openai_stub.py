"""A real OpenAI-compatible HTTP server on 127.0.0.1 that replays queued replies.

It stands in for a remote LLM provider the tests cannot reach, at the last
possible edge: litellm and the OpenAI client underneath it run for real, over a
real socket, against ``/v1/chat/completions`` (plain JSON, or Server-Sent
Events when the request says ``"stream": true``) and ``/v1/models``.  Replies
are queued with :meth:`OpenAIStub.enqueue` / :meth:`OpenAIStub.enqueue_error`
and every request body is recorded in :attr:`OpenAIStub.requests`, the pattern
of simonw/llm's ``MockModel.enqueue`` but over HTTP::

    from tests.openai_stub import OpenAIStub, openai_stub_fixture  # noqa: F401

    def test_x(openai_stub: OpenAIStub) -> None:
        openai_stub.enqueue("Putin set conditions [1].")
        make_pipeline(..., backend="litellm:openai/stub", llm_api_base=openai_stub.api_base)
        ...
        assert "Question:" in openai_stub.requests[0]["messages"][-1]["content"]

When the queue is empty the stub answers 500 with a message saying so, so a
test that makes one call too many fails loudly instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODEL = "stub"
# The default streaming split: words with their trailing space, so a reply
# arrives as several chunks, like a real provider's tokens.
_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Reply:
    """One queued reply: text (streamed in ``chunks`` when asked to stream) or an HTTP error."""

    text: str = ""
    status: int = 200
    message: str = ""
    error_type: str = "server_error"
    chunks: tuple[str, ...] | None = None
    delay_s: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _StubHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: pytest captures stderr, and the recorded requests are the useful log.
        pass

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send_json(
                200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stub"}]}
            )
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(
                400, {"error": {"message": "request body is not JSON", "type": "invalid_request_error"}}
            )
            return
        stub = self.server.stub
        reply = stub._record(body, dict(self.headers))
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            self._send_json(
                reply.status,
                {"error": {"message": reply.message, "type": reply.error_type, "param": None, "code": None}},
            )
            return
        model = str(body.get("model") or MODEL)
        if body.get("stream"):
            self._stream(reply, model)
        else:
            self._send_json(200, _completion(reply.text, model))

    def _stream(self, reply: Reply, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # No Content-Length: the body ends when the connection closes, like a real SSE stream.
        self.send_header("Connection", "close")
        self.end_headers()
        pieces = reply.chunks if reply.chunks is not None else tuple(_PIECES.findall(reply.text))
        ident = f"chatcmpl-stub-{time.monotonic_ns()}"
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None) -> None:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        event({"role": "assistant", "content": ""}, None)
        for piece in pieces:
            event({"content": piece}, None)
        event({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def _completion(text: str, model: str) -> dict[str, Any]:
    words = len(text.split())
    return {
        "id": f"chatcmpl-stub-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words},
    }


class _StubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stub: OpenAIStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut keep-alive connections: otherwise a client's pooled connection outlives ``stop()``."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class OpenAIStub:
    """The server's handle: queue replies, read recorded requests, find its address."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server: _StubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- queue ---------------------------------------------------------------------------

    def enqueue(self, text: str, *, chunks: list[str] | None = None, delay_s: float = 0.0) -> None:
        """Queue a successful reply; ``chunks`` overrides how it is split when streamed."""
        with self._lock:
            self._replies.append(
                Reply(text=text, chunks=tuple(chunks) if chunks is not None else None, delay_s=delay_s)
            )

    def enqueue_error(
        self, status: int = 500, message: str = "stub error", error_type: str = "server_error"
    ) -> None:
        """Queue an HTTP error answered in OpenAI's ``{"error": {...}}`` shape."""
        with self._lock:
            self._replies.append(Reply(status=status, message=message, error_type=error_type))

    def _record(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if self._replies:
                return self._replies.popleft()
        return Reply(status=500, message="openai stub: no reply queued for this request")

    @property
    def pending(self) -> int:
        """Replies queued but not yet served."""
        with self._lock:
            return len(self._replies)

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stub is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``QA_LLM_API_BASE`` / litellm's ``api_base`` should be."""
        return f"{self.url}/v1"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> OpenAIStub:
        self._server = _StubHTTPServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)


# Named apart from the fixture so a test module can import it without its parameters shadowing
# the import (ruff F811); better still, list "tests.openai_stub" in conftest's pytest_plugins.
@pytest.fixture(name="openai_stub")
def openai_stub_fixture() -> Iterator[OpenAIStub]:
    """A started :class:`OpenAIStub`, stopped after the test."""
    stub = OpenAIStub().start()
    try:
        yield stub
    finally:
        stub.stop()
