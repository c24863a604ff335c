"""``QA_ANNOTATE=deferred``: ingest leaves the sentence parses to ``qa annotate`` or the server's idle time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.ingest.annotate import annotation_texts
from qa.ingest.backlog import Backlog, Catchup, annotate_pending, drain
from qa.models.embedding import SentenceTransformerEmbedder
from qa.models.nlp import AnnotationStore, text_key
from qa.pipeline import Pipeline
from qa.types import Article
from tests.conftest import ROOT, SEED_ID, SEEDS, make_pipeline

QUESTION = "What did Ukraine say the Sumy strike hit?"

OTHER = Article(
    id="backlog-2",
    title="Harbour bridge reopens",
    text="The harbour bridge reopened on Monday after six weeks of repairs. Engineers replaced two cables.",
    source="Test Wire",
    published_at="2026-11-01",
)


def _stored(index_dir: Path, texts: list[str]) -> int:
    return len(AnnotationStore(index_dir).get_many([text_key(t) for t in texts if t.strip()]))


def _deferred(index_dir: Path, embedder: SentenceTransformerEmbedder) -> Pipeline:
    pipeline = make_pipeline(index_dir, embedder, annotate="deferred")
    result = pipeline.ingest([SEEDS])
    assert result.report.added == [SEED_ID]
    return pipeline


def test_deferred_ingest_is_answerable_then_parsed_by_the_backlog(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, seed_pipeline: Pipeline
) -> None:
    pipeline = _deferred(tmp_path / "index", embedder)
    seed = pipeline.get_document(SEED_ID).article()
    texts = annotation_texts([seed])
    assert _stored(pipeline.index_dir, texts) == 0  # nothing parsed at ingest
    assert pipeline.backlog.count() == 1 and pipeline.backlog.peek(5) == [SEED_ID]
    assert pipeline.stats()["unparsed_articles"] == 1  # what /metrics and `qa check` report
    # Answerable at once: the candidates are parsed on first use, and the answer is the one an
    # index parsed at ingest gives.
    answer, reference = pipeline.ask(QUESTION), seed_pipeline.ask(QUESTION)
    assert answer.answered and answer.answer == reference.answer
    assert [(c.start, c.end) for c in answer.citations] == [(c.start, c.end) for c in reference.citations]
    # A queued article deleted before its turn is dropped, not an error.
    pipeline.add_articles([OTHER])
    assert pipeline.backlog.count() == 2
    pipeline.delete([OTHER.id])
    progress: list[tuple[int, int]] = []
    parsed = annotate_pending(pipeline, progress=lambda a, s: progress.append((a, s)))
    assert parsed > 0 and sum(a for a, _ in progress) == 2
    assert pipeline.backlog.count() == 0 and pipeline.stats()["unparsed_articles"] == 0
    assert _stored(pipeline.index_dir, texts) == len({t for t in texts if t.strip()})
    assert annotate_pending(pipeline) == 0  # nothing left: no work


def test_backlog_keeps_an_id_until_its_step_is_done(tmp_path: Path) -> None:
    backlog = Backlog(tmp_path)
    backlog.add(["b", "a", "b", "c"])
    assert backlog.count() == 3 and backlog.peek(2) == ["a", "b"]

    def fail(articles: Any) -> int:
        raise RuntimeError("killed mid-step")

    with pytest.raises(RuntimeError):
        drain(backlog, lambda d: OTHER, fail, step=2)
    assert backlog.count() == 3  # the failed step's ids stay queued
    assert drain(backlog, lambda d: OTHER, lambda arts: len(arts), step=2) == 3
    assert backlog.count() == 0


def test_catchup_works_only_while_no_request_is_in_flight() -> None:
    pending = [5]
    lock = threading.Lock()

    def work() -> int:
        with lock:
            pending[0] -= 1
        return 1

    catchup = Catchup(work, lambda: pending[0], poll_s=0.05)
    catchup.busy()  # a request in flight from here on
    try:
        deadline = time.monotonic() + 10
        while pending[0] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        # At most the step that had started before the request: then it waits.
        seen = pending[0]
        time.sleep(0.3)
        assert pending[0] == seen and seen >= 4
    finally:
        catchup.idle()
    deadline = time.monotonic() + 10
    while pending[0] > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pending[0] == 0 and catchup.steps == 5
    catchup.close()
    assert not catchup._thread.is_alive()


def test_annotate_command_and_check_report_the_backlog(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    _deferred(index_dir, embedder)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_INDEX_DIR": str(index_dir)}
    qa = [sys.executable, "-m", "qa.cli"]
    check = subprocess.run([*qa, "check"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert check.returncode == 0 and "1 articles not parsed yet" in check.stdout
    run = subprocess.run(
        [*qa, "annotate", "-q"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("1 articles, ") and " 0 sentences" not in run.stdout
    check = subprocess.run([*qa, "check"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "not parsed yet" not in check.stdout
    # --all queues every stored article again; those already parsed cost a lookup, no parse.
    again = subprocess.run(
        [*qa, "annotate", "--all", "-q"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert again.returncode == 0 and again.stdout.startswith("1 articles, 0 sentences")
    missing = subprocess.run(
        [*qa, "annotate", "--index-dir", str(tmp_path / "none")],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert missing.returncode == 1 and "no index" in missing.stderr and "Traceback" not in missing.stderr


def test_server_parses_the_backlog_in_the_background(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, start_server: Any
) -> None:
    index_dir = tmp_path / "index"
    pipeline = _deferred(index_dir, embedder)
    texts = annotation_texts([pipeline.get_document(SEED_ID).article()])
    srv = start_server(index_dir, env={"QA_ANNOTATE": "deferred"})
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        reply = client.post("/ask", json={"question": QUESTION})
        assert reply.status_code == 200 and reply.json()["answered"]
        assert "# TYPE qa_index_unparsed_articles gauge" in client.get("/metrics").text
        deadline = time.monotonic() + 120
        while Backlog(index_dir).count() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert "qa_index_unparsed_articles 0.0" in client.get("/metrics").text
    assert Backlog(index_dir).count() == 0
    assert _stored(index_dir, texts) == len({t for t in texts if t.strip()})


def test_parallel_annotate_parses_half_of_each_step_in_a_child(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder, annotate="deferred")
    articles = [
        Article(
            f"par-{i}",
            f"The council of town {i} met on Monday. It approved {i + 3} new bus routes. "
            f"Residents of town {i} welcomed the plan.",
            f"Town {i} approves bus routes",
        )
        for i in range(3)
    ]
    pipeline.add_articles(articles)
    texts = annotation_texts(articles)
    assert pipeline.backlog.count() == 3 and _stored(pipeline.index_dir, texts) == 0
    parsed = annotate_pending(pipeline, step=2, parallel=True)
    distinct = len({t for t in texts if t.strip()})
    assert parsed == distinct  # each text parsed once, by the child or here
    assert _stored(pipeline.index_dir, texts) == distinct and pipeline.backlog.count() == 0
