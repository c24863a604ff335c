"""``qa ingest --engine ray``: Ray Data in local mode embeds, the ordinary write path stores, into Milvus Lite.

The same documents, chunks and (to float rounding) vectors as a plain ingest of
the same articles, the same search results, ``qa check`` clean, and a re-run
that embeds nothing.  Ray starts a local cluster in this process (about 10-30 s
on a loaded two-core machine); ``make setup`` installs it (``.[dev]`` includes
``ray[data]``).  That the service never imports Ray is checked here too.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main
from qa.pipeline import Pipeline
from tests.conftest import ROOT, SEEDS, make_pipeline

pytestmark = pytest.mark.slow

ARTICLES = [
    {
        "id": "harbour",
        "title": "Harbour reopens",
        "text": "The harbour of Port Ellis reopened on Monday after the storm. Ferries resumed at noon. "
        "Repairs to the northern pier will take another month, the port authority said.",
        "source": "Coast Daily",
        "published_at": "2022-03-01",
    },
    {
        "id": "orchard",
        "title": "Record harvest",
        "text": "Apple growers in the valley expect a record harvest this autumn. Prices may fall. "
        "Cooperatives are renting extra cold storage for the crop.",
        "source": "Farm News",
        "published_at": "2022-09-15",
    },
    {
        "id": "bridge",
        "title": "Bridge vote",
        "text": "The city council voted to replace the old river bridge. Construction starts in spring. "
        "A ferry will carry commuters while the bridge is closed.",
        "source": "City Desk",
    },
]
QUESTIONS = ["When did the ferries resume?", "Will apple prices fall?", "How will commuters cross the river?"]


def _ingest(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["ingest", *argv])
    return rc, out.getvalue() + err.getvalue()


def _plain_and_ray(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch, **settings: str
) -> tuple[Pipeline, Pipeline, Path, Path]:
    """The seeds and ARTICLES ingested plainly and by ``qa ingest --engine ray`` (both with ``settings``,
    the CLI's through their environment variables): the two pipelines, the Ray index and the corpus."""
    corpus = tmp_path / "articles.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES), "utf-8")
    plain = make_pipeline(tmp_path / "plain", embedder, **settings)
    plain.ingest([SEEDS, corpus])
    for name, value in settings.items():
        monkeypatch.setenv(f"QA_{name.upper()}", value)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    index = tmp_path / "ray"
    rc, out = _ingest(
        str(SEEDS), str(corpus), "--engine", "ray", "--workers", "1", "-q", "--index-dir", str(index)
    )
    assert rc == 0 and "4 added" in out, out
    return plain, make_pipeline(index, embedder, **settings), index, corpus


def test_ray_ingest_into_milvus_matches_a_plain_ingest(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, ray, index, corpus = _plain_and_ray(tmp_path, embedder, monkeypatch, store="milvus")
    try:
        assert ray.check() == []
        assert ray.list_documents()[1] and [
            (d.id, d.text, d.chunk_count) for d in ray.list_documents()[1]
        ] == [(d.id, d.text, d.chunk_count) for d in plain.list_documents()[1]]
        want = {
            (r["doc_id"], r["ordinal"]): r["dense"]
            for r in plain.store.query_all("chunks", ["doc_id", "ordinal", "dense"])
        }
        got = {
            (r["doc_id"], r["ordinal"]): r["dense"]
            for r in ray.store.query_all("chunks", ["doc_id", "ordinal", "dense"])
        }
        assert got.keys() == want.keys()
        for key, vector in got.items():
            assert np.allclose(vector, want[key], atol=1e-5), key
        assert ray.store.count("sentences") == plain.store.count("sentences") > 0
        for question in QUESTIONS:
            assert [p.doc_id for p in ray.search(question, 3)] == [
                p.doc_id for p in plain.search(question, 3)
            ]
    finally:
        ray.store.close()
        plain.store.close()

    rc, out = _ingest(str(SEEDS), str(corpus), "--engine", "ray", "-q", "--index-dir", str(index))
    assert rc == 0 and "0 added, 0 updated, 4 unchanged; 0 chunks embedded" in out, out


def test_ray_ingest_with_derived_chunk_vectors_matches_a_plain_ingest(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``QA_CHUNK_VECTORS=derived`` Ray's workers embed sentences and titles, never chunk texts."""
    plain, ray, index, corpus = _plain_and_ray(tmp_path, embedder, monkeypatch, chunk_vectors="derived")
    assert ray.check() == []
    with sqlite3.connect(plain.index_dir / "store.sqlite") as a, sqlite3.connect(index / "store.sqlite") as b:
        query = "SELECT doc_id, ordinal, text, vector FROM chunks ORDER BY doc_id, ordinal"
        want, got = a.execute(query).fetchall(), b.execute(query).fetchall()
    assert [r[:3] for r in got] == [r[:3] for r in want] and got
    for (*_, x), (*_, y) in zip(got, want, strict=True):
        u, v = np.frombuffer(x, dtype=np.float32), np.frombuffer(y, dtype=np.float32)
        # Sentences embedded in other batches than a plain ingest's (other padding): equal to rounding.
        assert float(u @ v) > 0.99999
    for question in QUESTIONS:
        assert [p.doc_id for p in ray.search(question, 3)] == [p.doc_id for p in plain.search(question, 3)]
    rc, out = _ingest(str(SEEDS), str(corpus), "--engine", "ray", "-q", "--index-dir", str(index))
    assert rc == 0 and "0 added, 0 updated, 4 unchanged; 0 chunks embedded" in out, out


def test_the_service_never_imports_ray() -> None:
    code = (
        "import sys; import qa.cli, qa.pipeline, qa.server.app, qa.store.milvus; "
        "print([m for m in sys.modules if m == 'ray' or m.startswith('ray.')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
