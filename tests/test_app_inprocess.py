"""The API's logic in-process: ``create_app(settings, pipeline)`` driven through ``httpx.ASGITransport``.

No uvicorn process: the app, its middleware, handlers and lifespan run in the test's
event loop over the real seed index and the real embedding model.  Every error
class a client can meet over HTTP is checked for its status, its headers and a
body equal to :func:`qa.errors.error_body`; the answer routes are checked on their
happy path; a provider that breaks off mid-stream (a real socket on 127.0.0.1)
shows the SSE ``error`` event.  The subprocess tests (test_api.py, test_security.py,
...) keep the real uvicorn path covered.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import torch
from fastapi import FastAPI

import qa.errors as errors_module
from qa.config import Settings
from qa.errors import (
    BackendError,
    BadQuestion,
    IndexLocked,
    IndexNotBuilt,
    NotFound,
    PayloadTooLarge,
    QAError,
    RateLimited,
    StoreError,
    Unauthorized,
    error_body,
)
from qa.models.embedding import SentenceTransformerEmbedder, set_torch_threads
from qa.pipeline import Pipeline
from qa.server.app import create_app
from qa.server.openai_compat import _stream as openai_stream
from qa.server.sse import sse_events
from tests.conftest import SEED_ID, SEED_TEXT, make_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

READ_KEY = "inproc-read-key-5e1f2a9c"
WRITE_KEY = "inproc-write-key-8b3d7c61"
QUESTION = "What conditions did Russia set?"
ARTICLE = {"id": "inproc-1", "title": "Harbour", "text": "The harbour of Port Ellis reopened on Monday."}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings_for(index_dir: Path, **overrides: Any) -> Settings:
    """Test settings: no rate limit and no MCP unless a test asks for them."""
    values: dict[str, Any] = {"index_dir": index_dir, "rate_limit_per_minute": 0, "mcp_http": False}
    return Settings(**{**values, **overrides})


@asynccontextmanager
async def client_for(
    settings: Settings, pipeline: Pipeline, app: FastAPI | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``create_app(settings, pipeline)`` (or of ``app``) with the app's lifespan running."""
    app = app or create_app(settings, pipeline)
    threads = torch.get_num_threads()  # the lifespan sets 1 thread, as `qa serve` does
    try:
        async with app.router.lifespan_context(app):
            # Our own bugs are answered 500 and re-raised for the server to log: keep the answer.
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://qa.test") as client:
                yield client
    finally:
        set_torch_threads(threads)


def assert_error(r: httpx.Response, expected: QAError) -> dict[str, str]:
    """``r`` is ``expected``'s answer: its status, its headers, and exactly its error_body."""
    assert r.status_code == expected.status, r.text
    assert r.json() == error_body(expected)
    for name, value in expected.headers.items():
        assert r.headers[name] == value
    return r.json()


def sse_events_of(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


# -- the tree ----------------------------------------------------------------------------------


def test_every_error_class_is_in_the_drawn_tree_with_a_status_and_its_own_code() -> None:
    classes = [
        c
        for name, c in vars(errors_module).items()
        if isinstance(c, type) and issubclass(c, QAError) and not name.startswith("_")
    ]
    assert len(classes) >= 25
    tree = errors_module.__doc__ or ""
    for cls in classes:
        assert re.search(rf"\b{cls.__name__} \(", tree), f"{cls.__name__} is missing from the tree"
        assert 400 <= cls.status <= 599 and cls.code
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), "two classes share an error code"


def test_each_class_carries_its_headers_and_5xx_bodies_carry_no_detail() -> None:
    assert RateLimited("slow down", 7).headers == {"Retry-After": "7"}
    locked = IndexLocked("the write lock of /srv/index was held for 30 s", 5)
    assert locked.headers == {"Retry-After": "5"} and locked.status == 503 and isinstance(locked, StoreError)
    assert error_body(locked) == {"detail": IndexLocked.generic, "error": "index_locked"}
    assert Unauthorized("no key").headers == {"WWW-Authenticate": 'Bearer realm="qa"'}
    assert NotFound("x").headers == {}
    assert error_body(BadQuestion("question is empty")) == {
        "detail": "question is empty",
        "error": "bad_question",
    }
    secret = BackendError("provider said: bad key sk-live-123 at /opt/x")
    assert error_body(secret) == {"detail": BackendError.generic, "error": "backend_error"}
    # Anything that is not a QAError is our own bug: its text never reaches a client.
    assert error_body(RuntimeError("/srv/secret")) == {
        "detail": "internal error; the server log has the details",
        "error": "internal_error",
    }


# -- errors over HTTP --------------------------------------------------------------------------


async def test_unknown_documents_routes_and_methods(seed_index: Path, seed_pipeline: Pipeline) -> None:
    async with client_for(settings_for(seed_index), seed_pipeline) as client:
        r = await client.get("/documents/no-such-doc")
        assert_error(r, NotFound("no document with id 'no-such-doc'"))
        r = await client.get("/nope")
        assert r.status_code == 404 and r.json() == {"detail": "Not Found", "error": "http_error"}
        r = await client.put("/documents")
        assert r.status_code == 405 and r.json()["error"] == "http_error"
        assert {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}
        r = await client.get("/documents")
        assert r.status_code == 200 and [d["id"] for d in r.json()["documents"]] == [SEED_ID]


async def test_bad_questions_get_422_bodies(seed_index: Path, seed_pipeline: Pipeline) -> None:
    async with client_for(settings_for(seed_index), seed_pipeline) as client:
        r = await client.post("/ask", json={"question": " \n\t"})
        assert r.status_code == 422
        assert r.json() == {"detail": "question: is empty or blank", "error": "invalid_request"}
        r = await client.post("/ask", json={"question": "x" * 1001})
        assert r.status_code == 422 and r.json()["error"] == "bad_question"
        assert "limit is 1000" in r.json()["detail"]
        r = await client.post("/chat/stream", json={"messages": [{"role": "assistant", "content": "hi"}]})
        assert r.status_code == 422 and "last message" in r.json()["detail"]
        r = await client.post("/ask", json={"question": QUESTION, "backend": "litellm:secret/model"})
        assert r.status_code == 403 and r.json()["error"] == "backend_not_enabled"


async def test_keys_401_with_a_challenge_and_403_for_a_read_key(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = settings_for(seed_copy, read_keys=READ_KEY, write_keys=WRITE_KEY, require_key_for_reads=True)
    async with client_for(settings, make_pipeline(seed_copy, embedder)) as client:
        r = await client.get("/search", params={"q": "Sumy"})
        assert_error(
            r,
            Unauthorized(
                "an API key is required: send it as `X-API-Key: KEY` or `Authorization: Bearer KEY`"
            ),
        )
        r = await client.get("/search", params={"q": "Sumy"}, headers={"X-API-Key": "wrong-key-000000000"})
        assert r.json() == {"detail": "the API key is not valid", "error": "unauthorized"}
        assert r.headers["www-authenticate"] == 'Bearer realm="qa"'
        r = await client.get("/search", params={"q": "Sumy"}, headers={"X-API-Key": READ_KEY})
        assert r.status_code == 200 and r.json()["results"]
        r = await client.post("/documents", json=ARTICLE, headers={"Authorization": f"Bearer {READ_KEY}"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert "QA_WRITE_KEYS" in r.json()["detail"]
        r = await client.post("/documents", json=ARTICLE, headers={"X-API-Key": WRITE_KEY})
        assert r.status_code == 201 and r.json()["added"] == ["inproc-1"]
        r = await client.delete("/documents/inproc-1", headers={"X-API-Key": WRITE_KEY})
        assert r.status_code == 200 and r.json() == {"deleted": "inproc-1"}
        r = await client.delete("/documents/inproc-1", headers={"X-API-Key": WRITE_KEY})
        assert_error(r, NotFound("no document with id 'inproc-1'"))


async def test_writes_are_403_without_a_write_key(seed_index: Path, seed_pipeline: Pipeline) -> None:
    async with client_for(settings_for(seed_index), seed_pipeline) as client:
        r = await client.post("/documents", json=ARTICLE)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert "QA_WRITE_KEYS" in r.json()["detail"]


async def test_bodies_over_the_limit_get_413(seed_index: Path, seed_pipeline: Pipeline) -> None:
    settings = settings_for(seed_index, max_body_bytes=1024, max_chat_chars=100, write_keys=WRITE_KEY)
    too_large = PayloadTooLarge("request body too large: the limit is 1024 bytes (QA_MAX_BODY_BYTES)")
    big = {**ARTICLE, "text": "The harbour reopened. " * 100}
    async with client_for(settings, seed_pipeline) as client:
        # Refused by its Content-Length, before any route runs ...
        r = await client.post("/documents", json=big, headers={"X-API-Key": WRITE_KEY})
        assert_error(r, too_large)

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 200

        # ... or, without one, by counting the bytes as they arrive.
        r = await client.post("/ask", content=chunked(), headers={"content-type": "application/json"})
        assert_error(r, too_large)
        # A conversation over QA_MAX_CHAT_CHARS is the route's 413, with the same body shape.
        messages = [{"role": "user", "content": "y" * 90}, {"role": "user", "content": "Sumy?" * 5}]
        r = await client.post("/chat", json={"messages": messages})
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
        assert "QA_MAX_CHAT_CHARS" in r.json()["detail"]


async def test_rate_limit_is_429_with_retry_after(seed_index: Path, seed_pipeline: Pipeline) -> None:
    settings = settings_for(seed_index, rate_limit_per_minute=6, rate_limit_burst=2)
    async with client_for(settings, seed_pipeline) as client:
        codes = [(await client.get("/search", params={"q": "Sumy"})).status_code for _ in range(2)]
        assert codes == [200, 200]
        r = await client.post("/ask", json={"question": QUESTION})
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 10
        assert_error(r, RateLimited(r.json()["detail"], retry_after))
        assert (await client.get("/health")).status_code == 200  # not a question route: not limited


async def test_no_index_is_503_without_its_path(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "private-place" / "index"
    async with client_for(settings_for(index_dir), make_pipeline(index_dir, embedder)) as client:
        health = (await client.get("/health")).json()
        assert health["index_loaded"] is False and "qa ingest" in health["hint"]
        for r in (
            await client.post("/ask", json={"question": QUESTION}),
            await client.post("/ask/stream", json={"question": QUESTION}),
            await client.get("/search", params={"q": "Sumy"}),
        ):
            assert_error(r, IndexNotBuilt("detail for the log only"))
            assert "private-place" not in r.text


async def test_our_own_bugs_are_a_logged_generic_500(
    seed_index: Path, seed_pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(seed_index)
    app = create_app(settings, seed_pipeline)

    def broken() -> None:
        raise RuntimeError("a bug with a secret path /srv/secret")

    app.add_api_route("/broken", broken)
    async with client_for(settings, seed_pipeline, app) as client:
        with caplog.at_level(logging.ERROR, logger="qa.api"):
            r = await client.get("/broken")
    assert r.status_code == 500 and r.json() == error_body(RuntimeError())
    assert "/srv/secret" not in r.text
    assert any("unhandled error on GET /broken" in rec.getMessage() for rec in caplog.records)


# -- answers -----------------------------------------------------------------------------------


async def test_ask_chat_and_their_streams_answer_with_citations(
    seed_index: Path, seed_pipeline: Pipeline
) -> None:
    async with client_for(settings_for(seed_index), seed_pipeline) as client:
        r = await client.post("/ask", json={"question": QUESTION})
        assert r.status_code == 200, r.text
        asked = r.json()
        assert asked["answered"] and asked["backend"] == "extractive" and "[1]" in asked["answer"]
        cite = asked["citations"][0]
        assert cite["doc_id"] == SEED_ID and SEED_TEXT[cite["start"] : cite["end"]] == cite["text"]

        r = await client.post("/ask/stream", json={"question": QUESTION})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        events = sse_events_of(r.text)
        kinds = [kind for kind, _ in events]
        assert kinds[-1] == "final" and kinds.count("final") == 1 and kinds.count("token") >= 3
        assert events[-1][1]["answer"] == asked["answer"]
        # The tokens are the backend's draft; the final event is the verified answer.
        assert "series of conditions" in "".join(d["text"] for k, d in events if k == "token")

        messages = [
            {"role": "user", "content": "How many people were killed in the missile strike on Sumy?"},
            {"role": "assistant", "content": "At least 35 people were killed [1]."},
            {"role": "user", "content": "And what did Russia claim it hit?"},
        ]
        r = await client.post("/chat", json={"messages": messages})
        chatted = r.json()
        assert r.status_code == 200 and "Sumy" in chatted["standalone_question"] and chatted["answered"]
        r = await client.post("/chat/stream", json={"messages": messages})
        final = sse_events_of(r.text)[-1]
        assert final[0] == "final" and final[1]["answer"] == chatted["answer"]

        r = await client.post("/v1/chat/completions", json={"model": "qa", "messages": messages[-1:]})
        assert r.status_code == 200 and r.json()["qa"]["backend"] == "extractive"

        metrics = (await client.get("/metrics")).text
        counted = re.search(r'qa_answers_total\{answered="true",backend="extractive"\} ([0-9.]+)', metrics)
        assert counted and float(counted.group(1)) >= 4  # ask, its stream, chat, its stream


# -- errors after a stream started ---------------------------------------------------------------


async def test_sse_error_event_is_the_error_body() -> None:
    def failing(exc: Exception) -> Iterator[tuple[str, Any]]:
        yield "token", "Russia "
        raise exc

    for exc in (BackendError("provider text sk-123"), BadQuestion("too long"), KeyError("our bug")):
        body = b"".join([chunk async for chunk in sse_events(failing(exc))]).decode()
        assert sse_events_of(body) == [("token", {"text": "Russia "}), ("error", error_body(exc))]
    # The OpenAI-compatible stream carries the same words and code, in OpenAI's shape.
    head = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 0, "model": "qa"}
    chunks = [c async for c in openai_stream(head, failing(BackendError("provider text sk-123")))]
    error = json.loads(chunks[-2].decode().removeprefix("data: "))["error"]
    assert error["message"] == BackendError.generic and error["code"] == "backend_error"
    assert chunks[-1] == b"data: [DONE]\n\n"


class _BreakingProvider(BaseHTTPRequestHandler):
    """An OpenAI-compatible provider whose stream breaks off after a few tokens (no final chunk)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for text in ("", "Russia ", "set ", "conditions "):
            chunk = {
                "id": "chatcmpl-broken",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "broken",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}],
            }
            data = f"data: {json.dumps(chunk)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        time.sleep(0.3)
        # Cut mid-body: the chunked body never ends, as when a provider's connection drops.
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def breaking_provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BreakingProvider)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_provider_that_breaks_mid_stream_ends_the_stream_with_an_error_event(
    seed_copy: Path, embedder: SentenceTransformerEmbedder, breaking_provider: str
) -> None:
    llm = {
        "backend": "litellm:openai/broken",
        "llm_api_base": breaking_provider,
        "llm_timeout_s": 10,
        "llm_concurrency": 1,
    }
    pipeline = make_pipeline(seed_copy, embedder, **llm)
    async with client_for(settings_for(seed_copy, **llm), pipeline) as client:
        for _ in range(2):  # the one LLM slot is given back after a failed stream
            with anyio.fail_after(60):
                r = await client.post("/ask/stream", json={"question": QUESTION})
            assert r.status_code == 200, r.text
            events = sse_events_of(r.text)
            assert events[0] == ("token", {"text": "Russia "})
            assert events[-1] == ("error", error_body(BackendError("")))
            assert "final" not in [kind for kind, _ in events]
