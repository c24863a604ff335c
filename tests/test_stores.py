"""The same behaviour on both stores (``store_kind``: FAISS + SQLite, Milvus Lite in a file).

Ingest the seed and a few articles, search, filters (a hostile source string
too), as-of, relabel, delete, a re-ingest that embeds nothing, stored sentence
vectors, the documents API, ``qa check`` and ``/health`` through the app.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch

from qa.answer.retrieve import Filters
from qa.cli import main
from qa.config import Settings
from qa.errors import ModelMismatch, NotFound
from qa.models.embedding import set_torch_threads
from qa.pipeline import Pipeline
from qa.server.app import create_app
from qa.store import open_store
from qa.types import Article
from tests.conftest import SEED_ID, SEEDS, make_pipeline

pytestmark = pytest.mark.slow

ARTICLES = [
    Article(
        "harbour",
        "The harbour of Port Ellis reopened on Monday after the storm. Ferries resumed at noon.",
        "Harbour reopens",
        'Coast "Daily"',
        "2022-03-01",
    ),
    Article(
        "orchard",
        "Apple growers in the valley expect a record harvest this autumn. Prices may fall.",
        "Record harvest",
        "Farm News",
        "2022-09-15",
    ),
]


class CountingEmbedder:
    """The shared embedder, counting the texts it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.embedded = 0

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def pipeline(tmp_path: Path, embedder, store_kind: str) -> Pipeline:
    p = make_pipeline(tmp_path / "index", embedder, store=store_kind)
    result = p.ingest([SEEDS])
    assert not result.problems and result.report.added == [SEED_ID]
    p.add_articles(ARTICLES)
    return p


def test_search_filters_and_documents(pipeline: Pipeline) -> None:
    hits = pipeline.search("When did the ferries resume at Port Ellis?", 3)
    assert hits[0].doc_id == "harbour" and "Port Ellis" in hits[0].text
    assert hits[0].source == 'Coast "Daily"' and hits[0].published_at == "2022-03-01"
    # A source with quotes matches exactly itself (casefolded), and injects nothing.
    only = pipeline.search("harbour harvest", 5, filters=Filters(sources=('coast "daily"',)))
    assert {h.doc_id for h in only} == {"harbour"}
    hostile = Filters(sources=('x" or source_key != "', "a\\", "new\nline", "bell\x07"))
    assert pipeline.search("harbour harvest", 5, filters=hostile) == []
    dated = pipeline.search("harbour harvest", 5, filters=Filters(published_after="2022-06-01"))
    assert {h.doc_id for h in dated} == {"orchard"}
    assert "orchard" not in {h.doc_id for h in pipeline.search("apple harvest", 5, as_of="2022-05-01")}
    total, docs = pipeline.list_documents()
    assert total == 3 and [d.id for d in docs] == sorted([SEED_ID, "harbour", "orchard"])
    assert pipeline.list_documents(source="Farm News")[0] == 1
    assert pipeline.list_documents(offset=1, limit=1)[1][0].id == "harbour"
    doc = pipeline.get_document("orchard")
    assert doc.text == ARTICLES[1].text and doc.chunk_count >= 1
    with pytest.raises(NotFound):
        pipeline.get_document("nope")
    stats = pipeline.stats()
    assert stats["documents"] == 3 and stats["chunks"] == pipeline.store.size() > 3
    assert pipeline.check() == []


def test_reingest_relabel_replace_and_delete(
    pipeline: Pipeline, tmp_path: Path, embedder, store_kind: str
) -> None:
    counting = CountingEmbedder(embedder)
    again = make_pipeline(tmp_path / "index", counting, store=store_kind)  # type: ignore[arg-type]
    report = again.add_articles(ARTICLES)
    assert report.unchanged == ["harbour", "orchard"] and counting.embedded == 0
    moved = dataclasses.replace(ARTICLES[1], source="Garden Weekly", published_at="2021-01-01")
    report = again.add_articles([moved])
    assert report.updated == ["orchard"] and counting.embedded == 0
    hits = again.search("apple harvest", 5, filters=Filters(sources=("garden weekly",)))
    assert [h.doc_id for h in hits][:1] == ["orchard"] and hits[0].published_at == "2021-01-01"
    changed = dataclasses.replace(ARTICLES[0], text=ARTICLES[0].text + " The mayor thanked the crews.")
    report = again.add_articles([changed])
    assert report.updated == ["harbour"] and counting.embedded > 0
    hits = again.search("Who thanked the crews?", 3)
    assert hits[0].doc_id == "harbour" and again.get_document("harbour").text == changed.text
    assert again.check() == []
    assert again.delete(["harbour", "nope"]) == ["harbour"]
    assert "harbour" not in {h.doc_id for h in again.search("Port Ellis ferries", 5)}
    assert again.stats()["documents"] == 2 and again.check() == []


def test_sentence_vectors_are_stored(pipeline: Pipeline) -> None:
    sentence = "Ferries resumed at noon."
    found = pipeline.store.sentence_vectors([sentence, "never ingested"])
    assert list(found) == [sentence]
    assert np.allclose(found[sentence], pipeline.embedder.embed([sentence])[0], atol=1e-3)


def test_qa_check_and_model_mismatch(
    pipeline: Pipeline, tmp_path: Path, store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_STORE", store_kind)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", "--index-dir", str(tmp_path / "index")])
    assert code == 0 and "3 documents" in out.getvalue() and "consistent" in out.getvalue()

    @dataclasses.dataclass
    class Other:
        name: str = "another-model"
        dimension: int = 384

    with pytest.raises(ModelMismatch):
        open_store(Settings(index_dir=tmp_path / "index", store=store_kind), Other())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_health_and_documents_over_the_api(pipeline: Pipeline, tmp_path: Path, store_kind: str) -> None:
    settings = Settings(
        index_dir=tmp_path / "index", store=store_kind, rate_limit_per_minute=0, mcp_http=False
    )
    app = create_app(settings, pipeline)
    threads = torch.get_num_threads()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://qa.test") as client:
                health = (await client.get("/health")).json()
                assert health["index_loaded"] and health["documents"] == 3 and health["status"] == "ok"
                r = await client.get("/documents/orchard")
                assert r.status_code == 200 and r.json()["title"] == "Record harvest"
                r = await client.get("/search", params={"q": "Port Ellis ferries", "k": 2})
                assert r.status_code == 200 and r.json()["results"][0]["doc_id"] == "harbour"
    finally:
        set_torch_threads(threads)
