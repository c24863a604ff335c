"""Parses left for later: ``QA_ANNOTATE=deferred`` ingest, searchable before it is parsed.

Ingest's own cost is embedding; parsing every sentence with spaCy for the answer stages
(:mod:`qa.ingest.annotate`) is as much again on two cores.  With ``deferred``, an ingest
embeds and writes the articles and records their ids here (a ``pending`` table in
``annotations.sqlite``); they are searchable and answerable at once (a question parses the
sentences it needs on first use, as with ``lazy``), and the parses are done afterwards:

* by ``qa annotate`` (all pending articles, with progress; ``--all`` queues every stored
  article first, for an index built ``lazy``), or
* by ``qa serve`` in the background (:class:`Catchup`): two articles at a time, only
  while no request is in flight, so a request waits on one small step at most.

An id leaves the table only after its article's parses and word vectors are stored, so a
killed run repeats at most one batch; an article deleted meanwhile is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from qa.errors import NotFound
from qa.ingest.annotate import annotate_articles, annotation_texts
from qa.models.embedding import Embedder
from qa.models.nlp import ANNOTATIONS_NAME, Annotator
from qa.models.parse_worker import ParseWorker
from qa.models.words import WordVectors
from qa.sqlite_local import ThreadConnections
from qa.types import Article

log = logging.getLogger(__name__)

# Articles parsed per step by `qa annotate`, and by the server (a request arriving waits on one step at most).
STEP = 16
SERVER_STEP = 2


class Backlog:
    """The ids of stored articles whose sentences are not parsed yet."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / ANNOTATIONS_NAME
        self._conns = ThreadConnections(
            self.path, "CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY)"
        )

    def add(self, doc_ids: Iterable[str]) -> None:
        rows = [(d,) for d in dict.fromkeys(doc_ids)]
        if rows:
            conn = self._conns.get()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", rows)
            conn.execute("COMMIT")

    def peek(self, n: int) -> list[str]:
        if not self.path.exists():
            return []
        rows = self._conns.get().execute("SELECT doc_id FROM pending ORDER BY doc_id LIMIT ?", (n,))
        return [r[0] for r in rows]

    def done(self, doc_ids: Sequence[str]) -> None:
        if doc_ids:
            conn = self._conns.get()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("DELETE FROM pending WHERE doc_id = ?", [(d,) for d in doc_ids])
            conn.execute("COMMIT")

    def count(self) -> int:
        if not self.path.exists():
            return 0
        try:
            return int(self._conns.get().execute("SELECT COUNT(*) FROM pending").fetchone()[0])
        except sqlite3.Error:
            return 0


def drain(
    backlog: Backlog,
    get_article: Callable[[str], Article],
    annotate: Callable[[Sequence[Article]], int],
    *,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    step: int = STEP,
) -> int:
    """Parse pending articles, ``step`` at a time (at most ``steps`` steps); returns sentences parsed.

    ``progress(articles, sentences)`` is called after each step.
    """
    parsed, done = 0, 0
    while steps is None or done < steps:
        ids = backlog.peek(step)
        if not ids:
            break
        articles: list[Article] = []
        for doc_id in ids:
            with contextlib.suppress(NotFound):  # deleted since it was queued
                articles.append(get_article(doc_id))
        n = annotate(articles) if articles else 0
        backlog.done(ids)
        parsed, done = parsed + n, done + 1
        if progress:
            progress(len(ids), n)
    return parsed


class Catchup:
    """``qa serve``'s background parser of the backlog: a step at a time, only while no request is in flight.

    :meth:`busy` / :meth:`idle` bracket each request (:class:`qa.server.catchup.Quiet`).  With
    the backlog empty it looks again every ``poll_s`` (an ingest by another process queues
    articles too); :meth:`close` stops it.
    """

    def __init__(self, work: Callable[[], int], pending: Callable[[], int], poll_s: float = 2.0) -> None:
        self._work, self._pending, self._poll = work, pending, poll_s
        self._lock = threading.Condition()
        self._in_flight = 0
        self._stopped = False
        self.steps = 0
        self._thread = threading.Thread(target=self._run, name="qa-annotate-backlog", daemon=True)
        self._thread.start()

    def busy(self) -> None:
        with self._lock:
            self._in_flight += 1

    def idle(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._in_flight and not self._stopped:
                    self._lock.wait(timeout=1.0)
                if self._stopped:
                    return
            try:
                worked = self._pending() > 0
                if worked:
                    self._work()
            except Exception:  # retried after a pause; never fatal to the server
                log.exception("background parsing of the backlog failed")
                worked = False
            if worked:
                self.steps += 1
            with self._lock:  # a short pause lets a waiting request in first; a long one when idle
                self._lock.wait(timeout=0.01 if worked else self._poll)


class _Stored(Protocol):
    def article(self) -> Article: ...


class Parts(Protocol):
    """What :func:`annotate_pending` uses of a :class:`qa.pipeline.Pipeline`."""

    backlog: Backlog
    annotator: Annotator
    words: WordVectors
    embedder: Embedder

    def get_document(self, doc_id: str) -> _Stored: ...


def annotate_pending(
    pipeline: Parts,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    step: int = STEP,
    parallel: bool = False,
) -> int:
    """Parse the pipeline's pending articles (:func:`drain` over its store); returns sentences parsed.

    ``parallel`` (``qa annotate``, which has the machine to itself): when more than one step is
    pending, half of each step is parsed in a child process (:class:`ParseWorker`) while this
    process parses the other half, so spaCy runs on two cores.
    """
    worker = ParseWorker() if parallel and pipeline.backlog.count() > step else None

    def parse(articles: Sequence[Article]) -> int:
        parsed = 0
        if worker is not None and len(articles) > 1:
            half = len(articles) // 2
            there = pipeline.annotator.annotate_new_beside(annotation_texts(articles[:half]), worker)
            parsed = pipeline.annotator.annotate_new(annotation_texts(articles[half:])) + there()
        # What is parsed now is only what the child failed to; then the words, as at ingest.
        return parsed + annotate_articles(articles, pipeline.annotator, pipeline.words, pipeline.embedder)

    def get(doc_id: str) -> Article:
        return pipeline.get_document(doc_id).article()

    try:
        return drain(pipeline.backlog, get, parse, steps=steps, progress=progress, step=step)
    finally:
        if worker is not None:
            worker.close()
