"""Two ``qa serve`` replicas on one Milvus: a write through one is read through the other.

Milvus Lite 3.2 locks its data directory: a second process opening the same
file fails (``DataDirLockedError``), so replicas cannot share a Lite *file*.
They can share a Lite *server*: ``milvus-lite server --data-dir DIR`` serves
the directory over gRPC, and each replica connects with
``QA_MILVUS_URI=http://127.0.0.1:PORT``, exactly as it would to a Milvus cluster.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from qa.ingest.chunk import chunk_article
from qa.store import store_exists
from qa.tools.harness import free_port
from qa.types import Article
from tests.conftest import ROOT, Server, make_pipeline

pytestmark = pytest.mark.slow

KEY = "replica-test-key-000001"
ARTICLE = {
    "id": "replica-1",
    "title": "Harbour",
    "text": "The harbour of Port Ellis reopened on Monday. Ferries resumed at noon.",
    "source": "Coast Daily",
}


@pytest.fixture
def milvus_server(tmp_path: Path) -> Iterator[str]:
    """A Milvus Lite gRPC server on 127.0.0.1; yields its URI."""
    port = free_port()
    log = open(tmp_path / "milvus-lite.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            Path(sys.executable).parent / "milvus-lite",
            "server",
            "--data-dir",
            str(tmp_path / "milvus"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, (tmp_path / "milvus-lite.log").read_text()
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_write_through_one_replica_is_read_through_the_other(
    tmp_path: Path, milvus_server: str, start_server: Callable[..., Server]
) -> None:
    env = {
        "QA_STORE": "milvus",
        "QA_MILVUS_URI": milvus_server,
        "QA_API_KEYS": KEY,
        "QA_RATE_LIMIT_PER_MINUTE": "0",
    }
    writer = start_server(tmp_path / "a", env=env)
    reader = start_server(tmp_path / "b", env=env)
    r = httpx.post(f"{writer.url}/documents", json=ARTICLE, headers={"X-API-Key": KEY}, timeout=120)
    assert r.status_code in (200, 201), r.text
    # Strong consistency: the very next read on the other replica sees the write.
    doc = httpx.get(f"{reader.url}/documents/replica-1", timeout=30)
    assert doc.status_code == 200 and doc.json()["text"] == ARTICLE["text"]
    hits = httpx.get(f"{reader.url}/search", params={"q": "When did the ferries resume?"}, timeout=60).json()
    assert hits["results"][0]["doc_id"] == "replica-1"
    assert httpx.get(f"{reader.url}/health", timeout=30).json()["documents"] == 1
    r = httpx.delete(f"{reader.url}/documents/replica-1", headers={"X-API-Key": KEY}, timeout=60)
    assert r.status_code in (200, 204), r.text
    assert httpx.get(f"{writer.url}/documents/replica-1", timeout=30).status_code == 404


def _articles(n: int) -> list[Article]:
    """``n`` articles of several sentences each (with QA_CHUNK_WORDS=20: a few chunks each)."""
    towns = ["Ellis", "Marden", "Corvale", "Stenby", "Halvik", "Oranmore", "Tessel", "Brinn"]
    out = []
    for i in range(n):
        town = f"{towns[i % len(towns)]} {i}"
        text = " ".join(
            [
                f"The council of {town} met on Monday to discuss the budget for the coming year.",
                f"Members of the council in {town} voted to repair the old bridge over the river.",
                f"Residents of {town} asked for more buses on the route to the hospital.",
                f"The mayor of {town} said the works would start in the spring and end by autumn.",
                f"A public meeting in {town} will hear objections before the plan is final.",
            ]
        )
        out.append(Article(f"town-{i:03d}", text, f"Council news from {town}", "Town Crier", "2022-05-01"))
    return out


def test_a_writer_killed_mid_ingest_leaves_no_half_visible_article(
    tmp_path: Path, milvus_server: str, embedder
) -> None:
    """Kill ``qa ingest`` (SIGKILL) once its first chunks are visible; a reader sees every article whole or
    not at all (all its chunks, or none), and a re-run of the same ingest completes it (``qa check`` clean)."""
    articles = _articles(100)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps(
                {
                    "id": a.id,
                    "title": a.title,
                    "text": a.text,
                    "source": a.source,
                    "published_at": a.published_at,
                }
            )
            + "\n"
            for a in articles
        ),
        "utf-8",
    )
    expected = {a.id: len(chunk_article(a, 20, 1)) for a in articles}
    assert min(expected.values()) >= 2
    env = {
        **os.environ,
        "QA_STORE": "milvus",
        "QA_MILVUS_URI": milvus_server,
        "QA_CHUNK_WORDS": "20",
        "QA_ANNOTATE": "lazy",
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "qa.cli",
        "ingest",
        str(corpus),
        "-q",
        "--index-dir",
        str(tmp_path / "w"),
    ]
    writer = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reader = make_pipeline(tmp_path / "r", embedder, store="milvus", milvus_uri=milvus_server, chunk_words=20)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and writer.poll() is None:
            if store_exists(reader.settings) and reader.store.count("chunks") > 0:
                break
            time.sleep(0.05)
        assert writer.poll() is None, "the writer finished before it could be killed"
        writer.kill()
        writer.wait(timeout=30)

        documents = {d["id"]: d for d in reader.store.query_all("documents", ["id", "chunk_count"])}
        chunks = list(reader.store.query_all("chunks", ["doc_id", "ordinal"]))
        assert chunks and len(documents) < len(articles)  # killed mid-ingest, after some writes
        seen: dict[str, set[int]] = {}
        for c in chunks:
            seen.setdefault(c["doc_id"], set()).add(int(c["ordinal"]))
        for doc_id, ordinals in seen.items():
            assert ordinals == set(range(expected[doc_id])), f"{doc_id}: part of its chunks visible"
        for doc_id, row in documents.items():
            assert seen.get(doc_id) == set(range(expected[doc_id])) == set(range(int(row["chunk_count"])))
        # Search serves whole chunks only, of articles whose every chunk is there.
        for p in reader.search("When will the bridge works start?", 10):
            assert p.doc_id in seen

        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        assert reader.check() == []
        stats = reader.stats()
        assert stats["documents"] == len(articles) and stats["chunks"] == sum(expected.values())
    finally:
        if writer.poll() is None:
            writer.kill()
        if reader._store is not None:
            reader.store.close()
