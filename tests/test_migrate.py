"""``qa migrate --to milvus``: the seed index (plus two articles) copied into Milvus Lite, no re-embedding.

Counts, documents, chunk and sentence vectors equal to the source's; the same
search results; ``qa check`` clean; a re-run is a no-op; a migration that died
(before a batch, or between a document's chunks and its row) is completed by a
re-run; bad input is a message and an exit status.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main
from qa.pipeline import Pipeline
from qa.store import milvus_schema
from qa.store.migrate import migrate_to_milvus
from qa.types import Article
from tests.conftest import make_pipeline

pytestmark = pytest.mark.slow

ARTICLES = [
    Article(
        "harbour",
        "The harbour of Port Ellis reopened on Monday after the storm. Ferries resumed at noon. "
        "The port authority said repairs to the northern pier would take another month.",
        "Harbour reopens",
        "Coast Daily",
        "2022-03-01",
        "https://example.org/harbour",
    ),
    Article(
        "orchard",
        "Apple growers in the valley expect a record harvest this autumn. Prices may fall. "
        "Cooperatives are renting extra cold storage.",
        "Record harvest",
        "Farm News",
        "2022-09-15",
    ),
]
QUESTIONS = ["When did the ferries resume?", "Will apple prices fall?", "What happened to the pier?"]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def source(seed_copy: Path, embedder) -> Path:
    """The seed index with two more articles (FAISS + SQLite)."""
    make_pipeline(seed_copy, embedder).add_articles(ARTICLES)
    return seed_copy


def _migrate(source: Path, tmp_path: Path, *more: str) -> tuple[int, str, str]:
    return _run(
        "migrate", "--to", "milvus", "--from", str(source), "--uri", str(tmp_path / "milvus.db"),
        "--index-dir", str(tmp_path / "target"), "-q", *more,
    )  # fmt: skip


def _target(tmp_path: Path, embedder) -> Pipeline:
    return make_pipeline(
        tmp_path / "target", embedder, store="milvus", milvus_uri=str(tmp_path / "milvus.db")
    )


def test_migration_copies_everything_and_searches_alike(
    source: Path, tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, out, err = _migrate(source, tmp_path)
    assert rc == 0, out + err
    assert "3 copied, 0 already in Milvus" in out and "verified" in out
    assert (tmp_path / "target" / "annotations.sqlite").is_file()  # the sidecar files came along
    assert (tmp_path / "target" / "words.sqlite").is_file()

    before, after = make_pipeline(source, embedder), _target(tmp_path, embedder)
    try:
        assert {k: after.stats()[k] for k in ("documents", "chunks")} == {
            k: before.stats()[k] for k in ("documents", "chunks")
        }
        assert after.list_documents(limit=10)[1] == before.list_documents(limit=10)[1]  # times kept too

        # Vectors equal, byte for byte: chunks by (document, ordinal), sentences by hash.
        db = sqlite3.connect(source / "store.sqlite")
        chunks = {(d, o): v for d, o, v in db.execute("SELECT doc_id, ordinal, vector FROM chunks")}
        sentences = dict(db.execute("SELECT hash, vector FROM sentences"))
        store = after.store
        rows = list(store.query_all("chunks", ["doc_id", "ordinal", "dense"]))
        assert len(rows) == len(chunks)
        for row in rows:
            assert np.asarray(row["dense"], np.float32).tobytes() == chunks[(row["doc_id"], row["ordinal"])]
        assert store.sentence_vectors_by_hash(list(sentences)) == sentences

        for question in QUESTIONS:
            for mode in ("dense", "hybrid"):
                want = [(p.doc_id, p.start, p.end) for p in before.search(question, 3, mode=mode)]
                got = [(p.doc_id, p.start, p.end) for p in after.search(question, 3, mode=mode)]
                assert got == want, (question, mode)
    finally:
        after.store.close()

    monkeypatch.setenv("QA_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", str(tmp_path / "milvus.db"))
    rc, out, _ = _run("check", "--index-dir", str(tmp_path / "target"))
    assert rc == 0 and "3 documents" in out and "consistent" in out

    rc, out, err = _migrate(source, tmp_path)  # a re-run: nothing to do
    assert rc == 0, out + err
    assert "0 copied, 3 already in Milvus; 0 chunks and 0 sentence vectors written" in out


def test_an_interrupted_migration_is_completed_by_a_rerun(source: Path, tmp_path: Path, embedder) -> None:
    settings = _target(tmp_path, embedder).settings

    def die(done: int) -> None:
        raise KeyboardInterrupt  # as if killed after the first batch's write

    with pytest.raises(KeyboardInterrupt):
        migrate_to_milvus(source, settings, batch=1, progress=die)
    # A writer that died after a document's chunks but before its row: the row is missing.
    target = _target(tmp_path, embedder)
    first = target.store.list_documents(limit=1)[1][0].id
    target.store.client.delete(target.store.names["documents"], filter=milvus_schema.in_list("id", [first]))
    assert target.stats()["documents"] == 0
    target.store.close()

    report = migrate_to_milvus(source, settings, batch=2)
    assert report.copied == 3 and report.skipped == 0 and not report.problems
    again = migrate_to_milvus(source, settings)
    assert again.copied == 0 and again.skipped == 3 and not again.problems
    target = _target(tmp_path, embedder)
    try:
        assert target.check() == []
        assert target.stats()["chunks"] == make_pipeline(source, embedder).stats()["chunks"]
    finally:
        target.store.close()


def test_bad_input_is_a_message_and_an_exit_status(source: Path, tmp_path: Path) -> None:
    rc, _, err = _migrate(tmp_path / "nowhere", tmp_path)
    assert rc == 1 and "no index to migrate" in err and "Traceback" not in err
    rc, _, err = _migrate(source, tmp_path, "--collection", "bad-name")
    assert rc == 2 and "milvus_collection" in err
    for argv in (["--to", "milvus", "--batch", "0"], ["--to", "elsewhere"], ["--from", str(source)]):
        err = io.StringIO()
        with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(err):
            main(["migrate", *argv])
        assert exc.value.code == 2 and "usage: qa migrate" in err.getvalue(), argv
