"""Property-based API tests: schemathesis against a real server, plus hand-picked hostile inputs.

Schemathesis reads the running server's /openapi.json and sends generated
requests (valid and invalid) to every operation; every response must be a
declared status with a body matching its declared schema, and never a 5xx.
The explicit tests below cover inputs a schema can't describe: binary and
oversized uploads, bad encodings, pathological JSON and odd unicode.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import SEED_ID, SEED_TEXT, Server

pytestmark = pytest.mark.slow

KEY = "schemathesis-test-key-0001"
# Small enough that an oversized body is cheap to send, large enough for schemathesis' bodies.
MAX_BODY = 256 * 1024
# Limits off, like the rate limit: schemathesis sends wrong keys on purpose (ignored_auth) and
# expects 401s, which past QA_AUTH_FAILURES_PER_MINUTE become 429s (tests/test_hardening.py).
SERVER_ENV = {
    "QA_API_KEYS": KEY,
    "QA_RATE_LIMIT_PER_MINUTE": "0",
    "QA_AUTH_FAILURES_PER_MINUTE": "0",
    "QA_MAX_BODY_BYTES": str(MAX_BODY),
}
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def api_server(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module over a private copy of the seed index (schemathesis writes to it)."""
    index_dir = tmp_path_factory.mktemp("schemathesis") / "index"
    shutil.copytree(seed_index, index_dir)
    srv = Server(index_dir, SERVER_ENV)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def api_schema(api_server: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_server.url}/openapi.json", timeout=30)


def test_every_operation_conforms_to_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    # schemathesis' own pytest integration (from_fixture) breaks on pytest 9 (Function._nodeid),
    # so each operation's strategy is driven by hypothesis here; failures are gathered per operation.
    # positive_data_acceptance is left out: the schema can't say "not blank after strip()" or
    # "a supported file suffix", so the API rightly answers 422 to some schema-valid inputs.
    failures: dict[str, BaseException] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @settings(
            max_examples=15,
            # Generous: /ask and writes embed text on 2 shared cores; this only stops a hang.
            deadline=timedelta(seconds=30),
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, timeout=60, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except BaseException as exc:
            failures[operation.label] = exc
    assert not failures, "\n\n".join(f"{label}:\n{exc}" for label, exc in failures.items())


# Bounded so CI stays fast (~1,000 requests, under a minute alone); the seed makes failures replayable.
CLI_MAX_EXAMPLES = 25
CLI_SEED = 3


def test_schemathesis_all_checks_all_phases(api_server: Server, tmp_path: Path) -> None:
    """`schemathesis run --checks all` over every operation, examples, coverage and fuzzing phases.

    Unlike the test above, this includes positive_data_acceptance (schema-valid requests must be
    accepted), unsupported_method and allow_header_conformance; tests/schemathesis.toml lists the
    few rules JSON Schema can't state and the operations that may refuse on them.
    """
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(Path(__file__).parent / "schemathesis.toml"),
        "run",
        f"{api_server.url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(CLI_MAX_EXAMPLES),
        "--seed",
        str(CLI_SEED),
        "--header",
        f"X-API-Key: {KEY}",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=480, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:] + "\n--- head ---\n" + output[:4000]
    assert re.search(r"Operations:\s+(\d+) selected / \1 total", output), output[:2000]  # every one


# -- explicit hostile inputs ---------------------------------------------------------


def assert_json_4xx(response: httpx.Response) -> dict[str, str]:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["detail"] and body["error"], body
    return body


def upload(server: Server, name: str, data: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/documents/upload", files={"file": (name, data)}, headers=AUTH, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("image.png", b"\x89PNG\r\n\x1a\n", "unsupported"),
        ("latin1.txt", "Café au lait à Genève, déjà vu.".encode("latin-1"), "UTF-8"),
        ("latin1.jsonl", '{"id": "x", "text": "Genève"}\n'.encode("latin-1"), "UTF-8"),
        ("empty.md", b"   \n", "empty"),
        ("broken.jsonl", b'{"id": "x", "text": \n', "malformed JSON"),
        ("nested.jsonl", b"[" * 10000 + b"]" * 10000 + b"\n", "nested too deeply"),
    ],
)
def test_malformed_uploads_get_a_clear_4xx(api_server: Server, name: str, data: bytes, needle: str) -> None:
    body = assert_json_4xx(upload(api_server, name, data))
    assert needle in body["detail"]


def test_upload_over_the_body_limit_gets_a_413(api_server: Server) -> None:
    data = b"A sentence about the harbor budget.\n" * (MAX_BODY // 36 + 100)
    r = upload(api_server, "big.txt", data)
    assert r.status_code == 413, r.text[:300]
    assert "QA_MAX_BODY_BYTES" in r.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 10000 + b"]" * 10000,
        b'{"documents": ' + b"[" * 10000 + b"]" * 10000 + b"}",
        b'{"text": "unterminated',
        b"\xff\xfe not json",
        b"",
    ],
    ids=["nested-lists", "nested-documents", "invalid-json", "not-utf8", "empty"],
)
@pytest.mark.parametrize("path", ["/documents", "/ask"])
def test_malformed_json_bodies_get_a_clear_4xx(api_server: Server, path: str, raw: bytes) -> None:
    r = httpx.post(
        f"{api_server.url}{path}",
        content=raw,
        headers={**AUTH, "content-type": "application/json"},
        timeout=60,
    )
    assert_json_4xx(r)


# Escaped in the JSON text exactly as a client would send them.
ODD_QUESTIONS = {
    "empty": b'""',
    "blank": b'" \\t\\n "',
    "oversized": b'"' + b"x" * 5000 + b'"',
    "lone-surrogate": b'"What did Russia \\ud800 say?"',
    "only-surrogate": b'"\\udfff"',
    "zero-width": b'"What\\u200b conditions\\u200c did\\u200d Russia\\u2060 set?"',
    "only-zero-width": b'"\\u200b\\u200b\\ufeff"',
    "rtl-marks": b'"\\u202eWhat conditions did Russia set?\\u200f\\u200e"',
    "emoji": '"🇺🇦🤝🇷🇺 What conditions did Russia set? 🕊️"'.encode(),
    "nul": b'"What conditions\\u0000 did Russia set?"',
    "only-nul": b'"\\u0000"',
    "combining": b'"Ru\\u0301\\u0301\\u0301ssia co\\u0308nditions"',
}


def assert_sane(response: httpx.Response, server: Server) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        assert_json_4xx(response)
        return
    body = response.json()
    for span in body.get("citations", body.get("results", [])):
        # Schemathesis may have added documents to this server: check each span against its own.
        text = SEED_TEXT if span["doc_id"] == SEED_ID else None
        if text is None:
            text = httpx.get(f"{server.url}/documents/{span['doc_id']}", timeout=30).json()["text"]
        assert text[span["start"] : span["end"]] == span["text"]


@pytest.mark.parametrize(
    "question",
    [pytest.param(q, id=name) for name, q in ODD_QUESTIONS.items()],
)
def test_odd_questions_get_a_4xx_or_a_sane_answer(api_server: Server, question: bytes) -> None:
    for path in ("/ask", "/chat"):
        if path == "/ask":
            raw = b'{"question": ' + question + b"}"
        else:
            raw = b'{"messages": [{"role": "user", "content": ' + question + b"}]}"
        r = httpx.post(
            f"{api_server.url}{path}", content=raw, headers={"content-type": "application/json"}, timeout=60
        )
        assert_sane(r, api_server)
    if b"\\ud" not in question:
        q = json.loads(question)
        assert_sane(httpx.get(f"{api_server.url}/search", params={"q": q}, timeout=60), api_server)


@pytest.mark.parametrize(
    "query", ["%ED%A0%80", "%FF%FE", "%00", "%C0%AF"], ids=["surrogate", "ff", "nul", "overlong"]
)
def test_badly_encoded_search_queries_never_fail_the_server(api_server: Server, query: str) -> None:
    r = httpx.get(f"{api_server.url}/search?q=Russia{query}conditions", timeout=60)
    assert_sane(r, api_server)
