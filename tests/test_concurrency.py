"""Readers never see a half-written index while a writer adds, updates and deletes through the API.

One thread writes through POST /documents and DELETE /documents/{id} on a real
server while reader threads keep asking the seed question.  Every read must be
a 200 whose passages and citations name documents that existed (the seed or
one the writer posted) and quote one of that document's versions verbatim.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEED_ID, SEED_TEXT, Server

pytestmark = pytest.mark.slow

KEY = "concurrency-test-key-0001"
SERVER_ENV = {"QA_API_KEYS": KEY, "QA_RATE_LIMIT_PER_MINUTE": "0"}
WRITE_HEADERS = {"X-API-Key": KEY}
QUESTION = "What conditions did Russia set?"
TOPICS = ["ceasefire talks", "energy strikes", "prisoner exchange", "grain exports", "sanctions relief"]


def article(i: int, version: int = 0) -> dict[str, str]:
    # On the seed's topic, so the new articles compete for the seed question's top passages.
    topic = TOPICS[i % len(TOPICS)]
    text = (
        f"Report {i} version {version} on {topic}. Russia set conditions for {topic} in round {i}. "
        f"Ukrainian officials said the {topic} proposal number {i} needs guarantees. "
        f"Talks on {topic} continue next week, negotiator {i} said."
    )
    return {"id": f"conc-{i:02d}", "title": f"Update {i} on {topic}", "text": text}


def check_read(response: httpx.Response, versions: dict[str, set[str]], route: str) -> None:
    assert response.status_code == 200, f"{route}: {response.status_code} {response.text[:300]}"
    body = response.json()
    spans = body["results"] if route == "search" else body["citations"]
    for span in spans:
        texts = versions.get(span["doc_id"])
        assert texts is not None, f"{route} named a document that never existed: {span['doc_id']}"
        assert any(t[span["start"] : span["end"]] == span["text"] for t in texts), span


def test_reads_stay_whole_during_writes(seed_copy: Path, start_server: Callable[..., Server]) -> None:
    started = time.monotonic()
    server = start_server(seed_copy, env=SERVER_ENV)
    # Every version of every document that may ever exist; filled before a write is sent,
    # so a reader that sees the write finds it here.
    versions: dict[str, set[str]] = {SEED_ID: {SEED_TEXT}}
    expected: dict[str, str] = {SEED_ID: SEED_TEXT}
    done = threading.Event()
    errors: list[BaseException] = []
    reads = {"ask": 0, "search": 0}

    def writer() -> None:
        try:
            with httpx.Client(base_url=server.url, headers=WRITE_HEADERS, timeout=60) as client:
                for batch_start in range(0, 30, 6):
                    batch = [article(i) for i in range(batch_start, batch_start + 6)]
                    for doc in batch:
                        versions.setdefault(doc["id"], set()).add(doc["text"])
                    r = client.post("/documents", json={"documents": batch})
                    assert r.status_code == 201, r.text
                    expected.update({d["id"]: d["text"] for d in batch})
                    # Update one earlier article, re-send one unchanged, delete another.
                    changed = article(batch_start, version=1)
                    versions[changed["id"]].add(changed["text"])
                    r = client.post("/documents", json=changed)
                    assert r.status_code == 201 and r.json()["updated"] == [changed["id"]], r.text
                    expected[changed["id"]] = changed["text"]
                    same = article(batch_start + 1)
                    r = client.post("/documents", json=same)
                    assert r.status_code == 201 and r.json()["unchanged"] == [same["id"]], r.text
                    gone = f"conc-{batch_start + 2:02d}"
                    r = client.delete(f"/documents/{gone}")
                    assert r.status_code == 200, r.text
                    expected.pop(gone)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader(route: str) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                while not done.is_set():
                    if route == "ask":
                        r = client.post("/ask", json={"question": QUESTION})
                    else:
                        r = client.get("/search", params={"q": QUESTION, "k": 8})
                    check_read(r, versions, route)
                    reads[route] += 1
        except BaseException as exc:
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(route,)) for route in ("ask", "search", "ask")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    if errors:
        raise errors[0]
    assert reads["ask"] > 0 and reads["search"] > 0

    listed = httpx.get(f"{server.url}/documents", params={"limit": 500}, timeout=30).json()
    assert listed["total"] == len(expected)
    assert {d["id"] for d in listed["documents"]} == set(expected)
    for doc_id, text in expected.items():
        assert httpx.get(f"{server.url}/documents/{doc_id}", timeout=30).json()["text"] == text
    server.stop()

    check = subprocess.run(
        [sys.executable, "-m", "qa.cli", "check", "--index-dir", str(seed_copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert time.monotonic() - started < 120
