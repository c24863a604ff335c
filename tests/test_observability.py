"""Request ids, JSON logs and /metrics through a real uvicorn process.

The server logs at info as JSON lines into a file; tests find a request's lines
by the log's growth while that request ran (the server is otherwise idle), so
"every line carries the id" is checked against all of them, not just those that
happen to carry it.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from qa.server.observability import (
    JsonFormatter,
    PlainFormatter,
    RequestIdFilter,
    request_id,
    sane_request_id,
)
from tests.conftest import SEED_ID, Server

KEY = "obs-3c9e1f7a2b8d4e65"
HEADERS = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def observed(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A private server logging JSON at info, with one API key so it can take writes."""
    index = tmp_path_factory.mktemp("observed") / "index"
    shutil.copytree(seed_index, index)
    srv = Server(
        index,
        env={"QA_API_KEYS": KEY, "QA_LOG_JSON": "true", "QA_RATE_LIMIT_PER_MINUTE": "0"},
        args=["--log-level", "info"],
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def log_lines(srv: Server) -> list[str]:
    return [line for line in srv.log.read_text("utf-8", "replace").splitlines() if line.strip()]


def lines_of(
    srv: Server, request: Callable[[], httpx.Response], path: str
) -> tuple[httpx.Response, list[dict]]:
    """Make ``request``; return its response and every log line written while it ran."""
    before = len(log_lines(srv))
    response = request()
    # The access line is written just after the response is sent: wait for it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entries = [json.loads(line) for line in log_lines(srv)[before:]]
        if any(e["logger"] == "qa.access" and e["path"] == path for e in entries):
            return response, entries
        time.sleep(0.05)
    raise AssertionError(f"no access line for {path}:\n{srv.output()}")


def metrics(srv: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels), parsed by prometheus_client's parser."""
    r = httpx.get(f"{srv.url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.slow
def test_every_log_line_is_json_with_a_request_id_on_each_line_of_a_request(observed: Server) -> None:
    lines = log_lines(observed)
    entries = [json.loads(line) for line in lines]  # every line parses, start-up included
    assert all({"ts", "level", "logger", "message", "request_id"} <= set(e) for e in entries)
    # uvicorn's own lines go through the same formatter.
    assert any(e["logger"].startswith("uvicorn") for e in entries)

    # A write: the key check passes, the ingest logs an audit line, then the access line.
    rid = "test-req.123_abc"
    article = {"id": "obs-1", "title": "Ferries", "text": "Ferries to Port Ellis resumed on Monday at noon."}
    r, during = lines_of(
        observed,
        lambda: httpx.post(
            f"{observed.url}/documents", json=article, headers={**HEADERS, "X-Request-ID": rid}, timeout=60
        ),
        "/documents",
    )
    assert r.status_code == 201 and r.headers["x-request-id"] == rid
    assert len(during) >= 2 and {e["request_id"] for e in during} == {rid}
    assert any(e["logger"] == "qa.documents" and e["ingest"]["added"] == 1 for e in during)
    access = next(e for e in during if e["logger"] == "qa.access")
    assert access["method"] == "POST" and access["path"] == "/documents" and access["route"] == "/documents"
    assert access["status"] == 201 and access["duration_ms"] > 0 and access["client"] == "127.0.0.1"

    # A refusal: the security warning and the access line, both with the id.
    rid = "refused-1"
    r, during = lines_of(
        observed,
        lambda: httpx.delete(
            f"{observed.url}/documents/obs-1", headers={"X-API-Key": "wrong", "X-Request-ID": rid}
        ),
        "/documents/obs-1",
    )
    assert r.status_code == 401 and r.headers["x-request-id"] == rid
    assert len(during) >= 2 and {e["request_id"] for e in during} == {rid}
    assert any(e["logger"] == "qa.security" and e["level"] == "WARNING" for e in during)
    assert next(e for e in during if e["logger"] == "qa.access")["route"] == "/documents/{doc_id}"


@pytest.mark.slow
def test_request_ids_are_generated_when_missing_or_unsafe(observed: Server) -> None:
    generated = httpx.get(f"{observed.url}/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    for unsafe in ("x" * 65, "has space", 'quote"d', "new\\nline"):
        echoed = httpx.get(f"{observed.url}/health", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert echoed != unsafe and re.fullmatch(r"[0-9a-f]{32}", echoed)
    assert (
        httpx.get(f"{observed.url}/nope", headers={"X-Request-ID": "a" * 64}).headers["x-request-id"]
        == "a" * 64
    )


@pytest.mark.slow
def test_the_key_is_never_logged(observed: Server) -> None:
    for headers in (HEADERS, {"Authorization": f"Bearer {KEY}"}):
        httpx.post(f"{observed.url}/documents", json={"nope": True}, headers=headers)
        httpx.get(f"{observed.url}/search", params={"q": "Sumy"}, headers=headers)
    _, during = lines_of(
        observed, lambda: httpx.get(f"{observed.url}/documents", headers=HEADERS), "/documents"
    )
    assert during
    assert KEY not in observed.log.read_text("utf-8", "replace")


@pytest.mark.slow
def test_metrics_count_requests_by_route_template(observed: Server) -> None:
    before = metrics(observed)
    assert httpx.get(f"{observed.url}/search", params={"q": "Sumy"}).status_code == 200
    assert httpx.get(f"{observed.url}/documents/{SEED_ID}").status_code == 200
    assert httpx.get(f"{observed.url}/no/such/path").status_code == 404
    ask = httpx.post(f"{observed.url}/ask", json={"question": "What happened in Sumy?"}, timeout=60).json()
    after = metrics(observed)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("qa_http_requests_total", method="GET", route="/search", status="200") == 1
    assert delta("qa_http_requests_total", method="GET", route="/documents/{doc_id}", status="200") == 1
    assert delta("qa_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("qa_http_request_duration_seconds_count", method="GET", route="/search") == 1
    assert (
        sample(after, "qa_http_request_duration_seconds_bucket", method="GET", route="/search", le="+Inf")
        >= 1
    )
    # Raw paths never become labels: that would grow without bound.
    assert not any(dict(labels).get("route") == f"/documents/{SEED_ID}" for _, labels in after)
    answered = str(ask["answered"]).lower()
    assert delta("qa_answers_total", backend="extractive", answered=answered) == 1
    assert sample(after, "qa_index_documents") >= 1 and sample(after, "qa_index_chunks") >= 3


@pytest.mark.slow
def test_ingest_counters_and_index_gauges_move_after_a_write(observed: Server) -> None:
    before = metrics(observed)
    article = {"id": "obs-metrics", "title": "Trams", "text": "The tram line to the harbour opens in May."}
    first = httpx.post(f"{observed.url}/documents", json=article, headers=HEADERS, timeout=60).json()
    again = httpx.post(f"{observed.url}/documents", json=article, headers=HEADERS, timeout=60).json()
    assert first["added"] == ["obs-metrics"] and again["unchanged"] == ["obs-metrics"]
    after = metrics(observed)
    assert (
        sample(after, "qa_ingest_documents_total", outcome="added")
        - sample(before, "qa_ingest_documents_total", outcome="added")
        == 1
    )
    assert (
        sample(after, "qa_ingest_documents_total", outcome="unchanged")
        - sample(before, "qa_ingest_documents_total", outcome="unchanged")
        == 1
    )
    assert ("qa_ingest_documents_total", (("outcome", "skipped"),)) in after  # present at 0
    embedded = sample(after, "qa_ingest_chunks_embedded_total") - sample(
        before, "qa_ingest_chunks_embedded_total"
    )
    assert embedded == first["chunks_embedded"] >= 1
    assert sample(after, "qa_index_documents") == sample(before, "qa_index_documents") + 1

    assert httpx.delete(f"{observed.url}/documents/obs-metrics", headers=HEADERS).status_code == 200
    assert sample(metrics(observed), "qa_index_documents") == sample(before, "qa_index_documents")


# -- formatters, in process --------------------------------------------------------------


def _emit(formatter: logging.Formatter, emit: Callable[[logging.Logger], None]) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("qa.test-formatters")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_formatters_carry_the_request_id_and_redact_keys() -> None:
    token = request_id.set("rid-42")
    try:
        out = _emit(
            JsonFormatter(secrets=["s3cret", 'q"uote']),
            lambda log: log.warning('saw s3cret and q"uote', extra={"route": "/ask", "status": 401}),
        )
    finally:
        request_id.reset(token)
    entry = json.loads(out)
    assert (
        entry["request_id"] == "rid-42"
        and entry["level"] == "WARNING"
        and entry["logger"] == "qa.test-formatters"
    )
    assert entry["route"] == "/ask" and entry["status"] == 401
    assert "s3cret" not in out and "uote" not in out and entry["message"].count("[redacted]") == 2

    def failing(log: logging.Logger) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")

    entry = json.loads(_emit(JsonFormatter(), failing))
    assert entry["request_id"] is None and "ValueError: boom" in entry["exc"]

    plain = _emit(PlainFormatter(secrets=["s3cret"]), lambda log: log.info("no s3cret here"))
    assert "[-]" in plain and "s3cret" not in plain and plain.count("\n") == 1


def test_sane_request_ids() -> None:
    assert sane_request_id("abc-DEF_1.2") == "abc-DEF_1.2"
    assert sane_request_id("a" * 64) == "a" * 64
    for bad in (None, "", "a" * 65, "a b", "a/b", "é", "a\nb"):
        assert sane_request_id(bad) is None
