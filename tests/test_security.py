"""Access control, rate limits, body limits and CORS through real uvicorn processes.

One private server (keys configured, reads protected, a tiny rate limit and body
limit, one CORS origin) serves every test here; each test uses its own key so
that their rate-limit buckets don't interact.  The shared ``server`` fixture
(no keys configured) shows writes being refused with a 403.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from qa.server.security import KeyChecker, RateLimiter
from tests.conftest import SEED_ID, Server

KEY_WRITES = "kw-7f3a9c1e5b2d4a60"
KEY_READS = "kr-91b2c3d4e5f60718"
KEY_LIMIT = "kl-0a1b2c3d4e5f6071"
KEY_SPARE = "ks-deadbeefcafe0042"
KEYS = (KEY_WRITES, KEY_READS, KEY_LIMIT, KEY_SPARE)
MAX_BODY = 4096
ALLOWED_ORIGIN = "https://news.example"

ARTICLE = {
    "id": "sec-test-1",
    "title": "Harbour reopens",
    "source": "Test Wire",
    "text": "The harbour of Port Ellis reopened on Monday after a two-week closure. Ferries resumed at noon.",
}


@pytest.fixture(scope="module")
def secured(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A private server with every protection on, shared by this module's tests."""
    index = tmp_path_factory.mktemp("secured") / "index"
    shutil.copytree(seed_index, index)
    srv = Server(
        index,
        env={
            "QA_API_KEYS": ",".join(KEYS),
            "QA_REQUIRE_KEY_FOR_READS": "true",
            "QA_RATE_LIMIT_PER_MINUTE": "6",
            "QA_RATE_LIMIT_BURST": "3",
            # Several tests here send missing and wrong keys on purpose; test_hardening limits them.
            "QA_AUTH_FAILURES_PER_MINUTE": "1000",
            "QA_MAX_BODY_BYTES": str(MAX_BODY),
            "QA_CORS_ORIGINS": ALLOWED_ORIGIN,
            "QA_LOG_JSON": "true",
        },
        args=["--log-level", "info"],
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail", "error"} and body["error"] == code and body["detail"]
    return body


# -- writes ------------------------------------------------------------------------------


@pytest.mark.slow
def test_writes_need_a_valid_key(secured: Server) -> None:
    url = f"{secured.url}/documents"
    for headers in (
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic eDp5"},
    ):
        r = httpx.post(url, json=ARTICLE, headers=headers)
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert_error(httpx.delete(f"{url}/{SEED_ID}"), 401, "unauthorized")
    upload = {"file": ("a.txt", b"Title\n\nSome text about a harbour.", "text/plain")}
    assert_error(httpx.post(f"{url}/upload", files=upload), 401, "unauthorized")

    r = httpx.post(url, json=ARTICLE, headers={"X-API-Key": KEY_WRITES}, timeout=60)
    assert r.status_code == 201 and r.json()["added"] == ["sec-test-1"]
    r = httpx.post(
        f"{url}/upload", files=upload, headers={"Authorization": f"Bearer {KEY_WRITES}"}, timeout=60
    )
    assert r.status_code == 201 and len(r.json()["added"]) == 1
    r = httpx.delete(f"{url}/sec-test-1", headers={"Authorization": f"Bearer {KEY_WRITES}"})
    assert r.status_code == 200 and r.json() == {"deleted": "sec-test-1"}


@pytest.mark.slow
def test_writes_are_refused_when_no_key_is_configured(server: Server) -> None:
    # The shared server has no QA_API_KEYS: even a key-looking header can't write.
    for r in (
        httpx.post(f"{server.url}/documents", json=ARTICLE),
        httpx.post(f"{server.url}/documents", json=ARTICLE, headers={"X-API-Key": KEY_WRITES}),
        httpx.delete(f"{server.url}/documents/{SEED_ID}"),
        httpx.post(f"{server.url}/documents/upload", files={"file": ("a.txt", b"x y z", "text/plain")}),
    ):
        assert "QA_API_KEYS" in assert_error(r, 403, "forbidden")["detail"]
    # ... and reads stay open there.
    assert httpx.get(f"{server.url}/documents").json()["total"] == 1


# -- reads -------------------------------------------------------------------------------


@pytest.mark.slow
def test_reads_need_a_key_when_required(secured: Server) -> None:
    base = secured.url
    calls = [
        ("GET", "/search", {"params": {"q": "Sumy"}}),
        ("POST", "/ask", {"json": {"question": "What happened in Sumy?"}}),
        ("POST", "/ask/stream", {"json": {"question": "What happened in Sumy?"}}),
        ("POST", "/chat", {"json": {"messages": [{"role": "user", "content": "What happened in Sumy?"}]}}),
        ("POST", "/chat/stream", {"json": {"messages": [{"role": "user", "content": "Sumy?"}]}}),
        ("GET", "/documents", {}),
        ("GET", f"/documents/{SEED_ID}", {}),
    ]
    for method, path, kw in calls:
        r = httpx.request(method, base + path, **kw)
        assert_error(r, 401, "unauthorized")
        r = httpx.request(method, base + path, headers={"X-API-Key": "nope"}, **kw)
        assert_error(r, 401, "unauthorized")
    # The key-less reads of the rate-limited routes took no tokens: the burst of 3 is still there.
    for method, path, kw in calls[:3]:
        r = httpx.request(method, base + path, headers={"X-API-Key": KEY_READS}, timeout=60, **kw)
        assert r.status_code == 200, r.text
    assert httpx.get(f"{base}/documents", headers={"Authorization": f"Bearer {KEY_READS}"}).status_code == 200
    assert httpx.get(f"{base}/documents/{SEED_ID}", headers={"X-API-Key": KEY_READS}).status_code == 200
    # Operational and documentation routes stay open.
    for path in ("/health", "/metrics", "/", "/docs", "/openapi.json"):
        assert httpx.get(base + path).status_code == 200, path
    assert httpx.get(f"{base}/widget.js").status_code in (200, 404)


@pytest.mark.slow
def test_openapi_declares_the_key_schemes(secured: Server) -> None:
    schema = httpx.get(f"{secured.url}/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A key from QA_READ_KEYS (reads) or QA_WRITE_KEYS (reads and writes).",
    }
    assert schemes["Bearer"]["scheme"].lower() == "bearer"
    for method, path in (("post", "/documents"), ("delete", "/documents/{doc_id}"), ("post", "/ask")):
        assert {"ApiKey": []} in schema["paths"][path][method]["security"]
    assert "security" not in schema["paths"]["/health"]["get"]


# -- rate limit --------------------------------------------------------------------------


@pytest.mark.slow
def test_rate_limit_answers_429_with_retry_after(secured: Server) -> None:
    headers = {"X-API-Key": KEY_LIMIT}
    search = f"{secured.url}/search"
    codes = [httpx.get(search, params={"q": "Sumy"}, headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = httpx.post(f"{secured.url}/ask", json={"question": "Sumy?"}, headers=headers)
    body = assert_error(r, 429, "rate_limited")
    assert "retry after" in body["detail"]
    # 6 a minute is one token per 10 s.
    assert r.headers["retry-after"].isdigit() and 1 <= int(r.headers["retry-after"]) <= 10
    # The limit is per key: another key still has its own burst.
    assert httpx.get(search, params={"q": "Sumy"}, headers={"X-API-Key": KEY_SPARE}).status_code == 200


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [1000.0]
    limiter = RateLimiter(60, 2, clock=lambda: now[0])
    assert limiter.acquire("a") == 0 and limiter.acquire("a") == 0
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0  # clients are independent
    now[0] += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("a") == 0
    assert RateLimiter(0, 5).acquire("a") == 0  # 0 disables


def test_token_bucket_is_thread_safe_and_memory_bounded() -> None:
    limiter = RateLimiter(1, 50)
    allowed = []

    def hammer() -> None:
        allowed.extend(1 for _ in range(40) if limiter.acquire("shared") == 0)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 50  # exactly the burst, however the threads interleave

    now = [0.0]
    bounded = RateLimiter(60, 5, max_clients=100, clock=lambda: now[0])
    for i in range(1000):
        bounded.acquire(f"client-{i}")
    assert len(bounded) <= 100
    now[0] += 10  # every bucket has refilled: idle buckets are swept on the next call
    bounded.acquire("late")
    assert len(bounded) == 1


def test_key_checker_compares_against_every_key() -> None:
    checker = KeyChecker([SecretStr("alpha"), SecretStr("beta"), SecretStr("")])
    assert checker.configured
    assert checker.matches("alpha") and checker.matches("beta")
    assert not checker.matches("alph") and not checker.matches("") and not checker.matches(None)
    assert not KeyChecker([]).configured and not KeyChecker([]).matches("alpha")


# -- body limit --------------------------------------------------------------------------


@pytest.mark.slow
def test_oversized_bodies_get_a_413(secured: Server) -> None:
    url = f"{secured.url}/documents"
    headers = {"X-API-Key": KEY_WRITES}
    big = {**ARTICLE, "text": "word " * MAX_BODY}
    r = httpx.post(url, json=big, headers=headers)
    assert "QA_MAX_BODY_BYTES" in assert_error(r, 413, "payload_too_large")["detail"]
    # Refused before the key check: the body limit is the outermost guard.
    assert_error(httpx.post(url, json=big), 413, "payload_too_large")

    upload = {"file": ("big.txt", b"Title\n\n" + b"text " * MAX_BODY, "text/plain")}
    assert_error(httpx.post(f"{url}/upload", files=upload, headers=headers), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"id": "chunked", "text": "'
        for _ in range(MAX_BODY // 512 + 2):
            yield b"x" * 512
        yield b'"}'

    # A generator body goes out chunked, with no Content-Length to refuse up front.
    r = httpx.post(url, content=chunks(), headers={**headers, "content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error(r, 413, "payload_too_large")

    def small() -> Iterator[bytes]:
        yield b'{"id": "chunked-ok", "text": "'
        yield b"A short chunked article about ferries."
        yield b'"}'

    r = httpx.post(url, content=small(), headers={**headers, "content-type": "application/json"}, timeout=60)
    assert r.status_code == 201 and r.json()["added"] == ["chunked-ok"]
    assert httpx.delete(f"{url}/chunked-ok", headers=headers).status_code == 200


# -- CORS --------------------------------------------------------------------------------


@pytest.mark.slow
def test_cors_allows_only_the_configured_origin(secured: Server) -> None:
    allowed = httpx.get(f"{secured.url}/health", headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    denied = httpx.get(f"{secured.url}/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"}
    ok = httpx.options(f"{secured.url}/documents", headers={"Origin": ALLOWED_ORIGIN, **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-api-key" in ok.headers["access-control-allow-headers"].lower()
    bad = httpx.options(f"{secured.url}/documents", headers={"Origin": "https://evil.example", **preflight})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers

    # Refusals carry the CORS headers too, so a browser page can read why.
    r = httpx.post(f"{secured.url}/documents", json=ARTICLE, headers={"Origin": ALLOWED_ORIGIN})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


# -- logs --------------------------------------------------------------------------------


@pytest.mark.slow
def test_keys_never_reach_the_log(secured: Server) -> None:
    headers = {"X-API-Key": KEY_SPARE, "Authorization": f"Bearer {KEY_SPARE}"}
    httpx.post(f"{secured.url}/documents", json={"bad": 1}, headers=headers)
    httpx.get(f"{secured.url}/documents/missing", headers=headers)
    httpx.get(f"{secured.url}/search", params={"q": "Sumy"}, headers={"X-API-Key": "guess-" + KEY_SPARE})
    log = secured.log.read_text("utf-8", "replace")
    assert "qa.access" in log  # the log did capture these requests
    for key in (*KEYS, "guess-" + KEY_SPARE):
        assert key not in log
