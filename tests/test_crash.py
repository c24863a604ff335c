"""A process killed mid-write leaves every document whole: the old version or the new, never a mix.

The server is SIGKILLed while one large POST /documents is in flight (once while
it embeds, once as its transaction reaches the WAL), and ``qa ingest`` is
SIGKILLed between its 64-article batches.  Afterwards the index must open, pass
``qa check``, hold each batch all-or-none, and still answer the seed question.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from qa.ingest.chunk import chunk_article
from qa.models.embedding import SentenceTransformerEmbedder
from qa.pipeline import INGEST_BATCH
from qa.store import STORE_NAME
from tests.conftest import ROOT, SEED_ID, SEED_TEXT, SEEDS, Server, make_pipeline

pytestmark = pytest.mark.slow

KEY = "crash-test-key-00000001"
SERVER_ENV = {"QA_API_KEYS": KEY, "QA_RATE_LIMIT_PER_MINUTE": "0"}
SEED_TITLE = json.loads((SEEDS / f"{SEED_ID}.meta.json").read_text("utf-8"))["title"]
SEED_NEW_TEXT = (
    SEED_TEXT.rstrip() + "\n\nObservers said the proposal would be reviewed again in the coming weeks.\n"
)
# Off the seed's topic, so the seed question keeps citing the seed article.
VOCAB = (
    "harbor council river budget storm vote court bridge school train festival orchard library "
    "museum tunnel ferry garden stadium bakery market canal clinic theatre airport village"
).split()
# About 80 words per article is one chunk each; 200 of them take the 2-core test
# machine 10-20 s to embed, long enough to kill the write in the middle.
BATCH_SIZE = 200


def generated(n: int, prefix: str, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        words = " ".join(rng.choice(VOCAB) for _ in range(75))
        docs.append(
            {"id": f"{prefix}-{i:03d}", "title": f"Local item {i}", "text": f"Item {i} of {prefix}. {words}."}
        )
    return docs


def generation(index_dir: Path) -> int:
    with sqlite3.connect(index_dir / STORE_NAME, timeout=30) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def stored_documents(index_dir: Path) -> dict[str, str]:
    with sqlite3.connect(index_dir / STORE_NAME, timeout=30) as conn:
        return dict(conn.execute("SELECT id, text FROM documents").fetchall())


def assert_chunks_whole(index_dir: Path, embedder: SentenceTransformerEmbedder) -> None:
    """Each document's chunks are exactly the chunks of its current text."""
    index = make_pipeline(index_dir, embedder).store
    try:
        assert index.check_consistency() == []
        rows = index.records.conn().execute(
            "SELECT doc_id, start, end, text FROM chunks ORDER BY doc_id, ordinal"
        )
        got: dict[str, list[tuple[int, int, str]]] = {}
        for r in rows:
            got.setdefault(r[0], []).append((r[1], r[2], r[3]))
        for doc in index.list_documents(limit=100_000)[1]:
            expected = [(c.start, c.end, c.text) for c in chunk_article(doc.article(), 120, 1)]
            assert got.get(doc.id) == expected, f"chunks of {doc.id} don't match its text"
    finally:
        index.close()


def qa_check(index_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "check", "--index-dir", str(index_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def wal_grew(index_dir: Path, baseline: int) -> bool:
    try:
        size = (index_dir / f"{STORE_NAME}-wal").stat().st_size
    except FileNotFoundError:
        size = 0
    return size > baseline or any(index_dir.glob(".vectors.*.tmp"))


@pytest.mark.parametrize("kill_at", ["embedding", "commit"])
def test_server_killed_mid_batch_keeps_the_batch_all_or_none(
    kill_at: str,
    seed_copy: Path,
    start_server: Callable[..., Server],
    embedder: SentenceTransformerEmbedder,
) -> None:
    server = start_server(seed_copy, env=SERVER_ENV)
    batch = generated(BATCH_SIZE, f"crash-{kill_at}", seed=1)
    # The batch also rewrites the pre-existing seed article.
    batch.append({"id": SEED_ID, "title": SEED_TITLE, "text": SEED_NEW_TEXT})
    wal = seed_copy / f"{STORE_NAME}-wal"
    wal_baseline = wal.stat().st_size if wal.exists() else 0
    outcome: dict[str, object] = {}

    def post() -> None:
        try:
            r = httpx.post(
                f"{server.url}/documents",
                json={"documents": batch},
                headers={"X-API-Key": KEY},
                timeout=120,
            )
            outcome["status"] = r.status_code
        except httpx.TransportError as exc:
            outcome["error"] = exc

    poster = threading.Thread(target=post)
    started = time.monotonic()
    poster.start()
    if kill_at == "embedding":
        # Well inside the 10-20 s of embedding, and past the request parsing.
        time.sleep(2.0)
    else:
        while not wal_grew(seed_copy, wal_baseline) and poster.is_alive() and time.monotonic() - started < 90:
            time.sleep(0.002)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    poster.join(timeout=30)
    if kill_at == "embedding":
        assert "status" not in outcome, "the batch finished before the kill: make BATCH_SIZE larger"

    restarted = start_server(seed_copy, env=SERVER_ENV)
    assert httpx.get(f"{restarted.url}/health", timeout=30).status_code == 200
    docs = {}
    offset = 0
    while True:
        page = httpx.get(
            f"{restarted.url}/documents", params={"offset": offset, "limit": 500}, timeout=30
        ).json()
        docs.update({d["id"]: d for d in page["documents"]})
        offset += page["limit"]
        if offset >= page["total"]:
            break
    new_ids = {d["id"] for d in batch} - {SEED_ID}
    present = new_ids & set(docs)
    seed_text = httpx.get(f"{restarted.url}/documents/{SEED_ID}", timeout=30).json()["text"]
    assert present in (set(), new_ids), f"{len(present)} of {len(new_ids)} batch documents survived"
    assert seed_text == (SEED_NEW_TEXT if present else SEED_TEXT)
    texts = stored_documents(seed_copy)
    for d in batch:
        if present:
            assert texts[d["id"]] == d["text"]

    answer = httpx.post(
        f"{restarted.url}/ask", json={"question": "What conditions did Russia set?"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answered"]
    assert answer.json()["citations"][0]["doc_id"] == SEED_ID
    restarted.stop()

    qa_check(seed_copy)
    assert_chunks_whole(seed_copy, embedder)


def test_ingest_killed_between_batches_keeps_committed_batches(
    seed_copy: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    batches = 4
    docs = generated(INGEST_BATCH * batches, "jsonl", seed=2)
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs), "utf-8")
    base = generation(seed_copy)
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "ingest", "-q", "--index-dir", str(seed_copy), str(source)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while generation(seed_copy) == base and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        # The first batch is committed; land the kill inside the second batch's embedding.
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL, "ingest finished before the kill: make the file bigger"

    committed = generation(seed_copy) - base
    assert 1 <= committed < batches
    stored = stored_documents(seed_copy)
    # Batches commit in file order, so exactly the first `committed` batches are present.
    expected = {d["id"]: d["text"] for d in docs[: committed * INGEST_BATCH]}
    assert {k: v for k, v in stored.items() if k != SEED_ID} == expected
    assert stored[SEED_ID] == SEED_TEXT
    assert_chunks_whole(seed_copy, embedder)
    qa_check(seed_copy)
