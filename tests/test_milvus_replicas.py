"""Two ``qa serve`` replicas on one Milvus: a write through one is read through the other.

Milvus Lite 3.2 locks its data directory: a second process opening the same
file fails (``DataDirLockedError``), so replicas cannot share a Lite *file*.
They can share a Lite *server*: ``milvus-lite server --data-dir DIR`` serves
the directory over gRPC, and each replica connects with
``QA_MILVUS_URI=http://127.0.0.1:PORT``, exactly as it would to a Milvus cluster.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from qa.tools.harness import free_port
from tests.conftest import Server

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
