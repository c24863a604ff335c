"""The only module that knows the order of the stages.

``load_articles -> chunk_article -> embed.prepare -> Store.writer().write`` on the way in (the store
stores: it neither chunks nor embeds); ``Retriever.search -> Backend.draft -> Verifier.verify ->
Answer`` on the way out.  Models and the index load on first use (or in ``warm_up``), shared by all.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from qa.answer import assess as answering
from qa.answer.backends import Backend, Turn, get_backend, recent_turns
from qa.answer.corroborate import FactSearch, corroborate
from qa.answer.diverse import spread
from qa.answer.evidence import EmbeddingCache
from qa.answer.recency import as_read
from qa.answer.retrieve import Filters, Mode, Retriever
from qa.answer.timeaware import make_time_aware
from qa.answer.timeline import is_timeline_question, timeline_answer
from qa.answer.verify import NOT_FOUND, Verified, Verifier
from qa.config import Settings
from qa.errors import BackendNotEnabled, BadQuestion, IndexNotBuilt
from qa.ingest.annotate import BesideEmbedding, annotate_articles
from qa.ingest.backlog import Backlog
from qa.ingest.dedup import OriginIndex
from qa.ingest.embed import IngestReport, IngestResult
from qa.ingest.load import Problem, article_batches
from qa.models.embedding import Embedder, SentenceTransformerEmbedder
from qa.models.nlp import AnnotationStore, Annotator
from qa.models.words import WordVectors
from qa.store import BUILD_HINT, ChunkStore, StoredDocument, open_store, store_exists
from qa.store.write import write_articles
from qa.text import has_lone_surrogate
from qa.types import Answer, Article, Passage, Question

INGEST_BATCH = 64


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


class AskOptions(TypedDict, total=False):
    """How to answer: every field optional (``top_k`` defaults to ``QA_TOP_K``, ``backend`` to ``QA_BACKEND``)."""

    top_k: int | None
    backend: str | None
    filters: Filters | None
    history: Sequence[Turn] | None  # earlier turns of a chat, oldest first
    as_of: str | None  # ISO date: nothing published after it is used (nor after a stated "as of <date>")
    mode: str | None  # "auto" (None), "answer", or "timeline" (dated events, see qa.answer.timeline)


class Pipeline:
    """Wires the stages together for the CLI, the HTTP API and the eval harness."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model,
            settings.embed_batch_size,
            settings.embed_precision,
            settings.question_encoder,
            settings.embed_runtime,
        )
        # Beside the index: the lemmas the predicate checks compare, embedded at ingest; sentence
        # parses keyed by text; the ids of articles a `deferred` ingest left unparsed.
        self.words = WordVectors(settings.index_dir, self.embedder.name)
        self.embeddings = EmbeddingCache(self.embedder, words=self.words)
        self.annotator = Annotator(AnnotationStore(settings.index_dir))
        self.backlog = Backlog(settings.index_dir)
        self.verifier = Verifier.from_settings(settings, self.embeddings, self.annotator)
        self.origins = OriginIndex(settings.index_dir)
        self._store: ChunkStore | None = None
        self._retriever: Retriever | None = None
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    # -- components --------------------------------------------------------------------

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    def _open_store(self, create: bool) -> ChunkStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings, self.embedder, create=create)
                    # The answer stages read sentence vectors stored at ingest from the store itself.
                    self.embeddings.attach(self._store)
        return self._store

    @property
    def store(self) -> ChunkStore:
        """The store, opened on first use; ``IndexNotBuilt`` if there is none."""
        return self._open_store(create=False)

    def writable_store(self) -> ChunkStore:
        """The store, created if missing (for writes)."""
        return self._open_store(create=True)

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(
                self.store,
                self.embeddings.embed,  # the answer stages then find the question's vector cached
                mode=self.settings.retrieval_mode,
                rrf_k=self.settings.rrf_k,
                recency_half_life_days=self.settings.recency_half_life_days,
            )
        return self._retriever

    def backend(self, name: str | None = None) -> Backend:
        """The named backend (default: ``settings.backend``), created once and cached."""
        name = name or self.settings.backend
        allowed = {"extractive", self.settings.backend, *self.settings.backends_allowed}
        if name not in allowed:
            raise BackendNotEnabled(
                f"backend {name!r} is not enabled here; choose one of: {', '.join(sorted(allowed))}",
                # A client is not told which models the server has enabled.
                public=f"backend {name!r} is not enabled on this server",
            )
        if name not in self._backends:
            self._backends[name] = get_backend(
                name, settings=self.settings, embeddings=self.embeddings, annotator=self.annotator
            )
        return self._backends[name]

    def warm_up(self) -> None:
        """Load the model, the index (if built), the BM25 index and the default backend now."""
        self.embeddings.embed(["warm up"])
        self.annotator.warm_up()
        if self.verifier.learned is not None:  # QA_VERIFIER_MODEL=learned
            self.verifier.learned.warm_up()
        self.backend()
        if store_exists(self.settings):
            self.retriever.warm_up()

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "status": "ok",
            "index_loaded": False,
            "documents": 0,
            "chunks": 0,
            "model": self.settings.embedding_model,
            "backend": self.settings.backend,
            "retrieval": self.settings.retrieval_mode,
        }
        if self._store is not None or store_exists(self.settings):
            stats = self.stats()
            info.update(index_loaded=True, documents=stats["documents"], chunks=stats["chunks"])
        else:
            info["status"] = "no_index"
            info["hint"] = f"build the index with `{BUILD_HINT}`"
        return info

    # -- questions ---------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """The question stripped, or ``BadQuestion`` if empty or too long."""
        if not isinstance(question, str) or not question.strip():
            raise BadQuestion("question is empty")
        question = question.strip()
        if has_lone_surrogate(question):
            raise BadQuestion("question contains an unpaired UTF-16 surrogate (invalid Unicode)")
        if len(question) > self.settings.max_question_chars:
            raise BadQuestion(
                f"question is {len(question)} characters; the limit is {self.settings.max_question_chars} "
                "(QA_MAX_QUESTION_CHARS)"
            )
        return question

    def search(
        self,
        question: str,
        k: int | None = None,
        *,
        filters: Filters | None = None,
        mode: Mode | None = None,
        as_of: str | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for a question, read as :meth:`answer` reads it (:func:`as_read`)."""
        filters, as_of = as_read(text := self.check_question(question), filters, as_of)
        return self._retrieve(text, k, filters=filters, mode=mode, as_of=as_of)

    def _retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        filters: Filters | None = None,
        mode: Mode | None = None,
        as_of: str | None = None,
    ) -> list[Passage]:
        # No length check: a condensed question may rightly be longer than the typed one ``_prepare`` checked.
        filters = (filters or Filters()).at(as_of)
        if self.store.size() == 0:
            raise IndexNotBuilt(
                f"the index in {self.index_dir} holds no articles yet: add some with `{BUILD_HINT}`"
            )
        return self.retriever.search(question, k or self.settings.top_k, filters=filters, mode=mode)

    def _prepare(
        self,
        question: str,
        *,
        history: Sequence[Turn] | None,
        backend: str | None,
    ) -> tuple[Question, Backend, dict[str, float]]:
        text = self.check_question(question)
        chosen = self.backend(backend)
        timings: dict[str, float] = {}
        typed = Question(text)
        if history:
            start = time.perf_counter()
            recent = recent_turns(history, self.settings.condense_max_chars)
            condensed = chosen.condense(recent, text)
            typed = condensed if condensed.text.strip() else typed
            timings["condense_ms"] = _ms(start)
        return typed, chosen, timings

    def answer(
        self, question: str, *, stream: bool = False, **options: Unpack[AskOptions]
    ) -> Iterator[tuple[str, Any]]:
        """The one path behind ``ask``, ``ask_stream`` and both chat routes.

        Yields ``("token", text)`` as a streaming backend produces it (only when
        ``stream``), then ``("final", Answer)``.  Validation, condensing,
        retrieval and the backend's first piece happen before this returns, so
        errors there surface as ordinary exceptions, not mid-stream.
        """
        total = time.perf_counter()
        standalone, chosen, timings = self._prepare(
            question, history=options.get("history"), backend=options.get("backend")
        )
        start = time.perf_counter()
        mode = options.get("mode")
        filters, as_of = as_read(standalone.text, options.get("filters"), options.get("as_of"))  # "this week"
        k = options.get("top_k") or self.settings.top_k
        wide = max(k, self.settings.corroborate_passages) if self.settings.corroborate else k
        # The question's parse, then 2x what is read (to skip copies and spread over articles). Not
        # side by side: both hold the GIL most of the time, and together each ran 1.5-2.5x slower.
        timeline = mode == "timeline" and self.settings.timeline_events > 0
        sent = self.annotator.annotate([standalone.text], persist=False)[0]
        if timeline or (mode != "answer" and self.settings.timeline_events and is_timeline_question(sent)):
            n = self.settings.timeline_passages
            found = spread(
                self._retrieve(standalone.retrieval_text, 2 * n, filters=filters, as_of=as_of),
                n,
                n,
                self.origins,
            )
            timings["retrieve_ms"] = _ms(start)
            args = (standalone, sent, found, self.verifier, self.origins, self.settings.timeline_events)
            answer = timeline_answer(*args, chosen.name)
            answer.timings_ms = {**timings, "timeline_ms": _ms(start), "total_ms": _ms(total)}
            return iter([("final", answer)])
        ranking = self._retrieve(standalone.retrieval_text, 2 * wide, filters=filters, as_of=as_of)
        found = spread(ranking, k, wide, self.origins)
        timings["retrieve_ms"] = _ms(start)
        start = time.perf_counter()
        pieces = (
            chosen.stream(standalone, found[:k]) if stream else iter([chosen.draft(standalone, found[:k])])
        )
        first = next(pieces, None)

        def events() -> Iterator[tuple[str, Any]]:
            parts: list[str] = []
            for piece in itertools.chain([first] if first is not None else [], pieces):
                parts.append(piece)
                if stream:
                    yield "token", piece
            timings["generate_ms"] = _ms(start)
            fact = self.retriever.fact_search((filters or Filters()).at(as_of))
            text = "".join(parts)
            yield "final", self._finish(text, found[:k], chosen, timings, total, standalone, found, fact)

        return events()

    def ask(self, question: str, **options: Unpack[AskOptions]) -> Answer:
        """Answer a question with verified citations; ``answered`` is False when the articles don't say."""
        return next(value for kind, value in self.answer(question, **options) if kind == "final")

    def ask_stream(self, question: str, **options: Unpack[AskOptions]) -> Iterator[tuple[str, Any]]:
        """:meth:`answer` streaming: the backend's tokens as it produces them, then the final answer."""
        return self.answer(question, stream=True, **options)

    def _finish(
        self,
        draft: str,
        passages: list[Passage],
        backend: Backend,
        timings: dict[str, float],
        total: float,
        standalone: Question,
        found: list[Passage],  # the passages and any more retrieved for corroboration
        search_fact: FactSearch | None = None,  # passages for a cited sentence (corroboration)
    ) -> Answer:
        start = time.perf_counter()
        verified: Verified = self.verifier.verify(draft, passages)
        timings["verify_ms"] = _ms(start)
        answer = Answer(
            answer=verified.answer,
            answered=verified.answered,
            citations=verified.citations,
            backend=backend.name,
            passages=passages,
            timings_ms=timings,
            standalone_question=standalone.retrieval_text,
            unsupported=verified.unsupported,
        )
        if verified.answered:
            start = time.perf_counter()
            off_question = answering.review(answer, standalone, self.annotator, self.embeddings)
            if off_question or answer.confidence < self.settings.min_confidence:
                answer.unsupported = [*answer.unsupported, *(c.text for c in answer.citations)]
                answer.answer, answer.answered = NOT_FOUND, False
                answer.citations, answer.short_answer = [], None
            timings["assess_ms"] = _ms(start)
        if answer.answered and self.settings.corroborate:
            start = time.perf_counter()
            args = (verified, answer, found, self.verifier, self.origins, self.settings, standalone.text)
            answer.sources = corroborate(*args, self.store, search_fact)
            make_time_aware(answer)
            timings["corroborate_ms"] = _ms(start)
        timings["total_ms"] = _ms(total)
        return answer

    # -- writes ----------------------------------------------------------------------

    def add_articles(
        self, articles: Sequence[Article], progress: Callable[[int], None] | None = None
    ) -> IngestReport:
        """Add or replace articles (one atomic write, see :func:`write_articles`), then annotate them."""
        report = write_articles(self.writable_store(), self.embedder, articles, self.settings, progress)
        self.annotate(articles)
        self.origins.record(articles)
        return report

    def annotate(self, articles: Sequence[Article]) -> int:
        """Parse and store the sentences (and titles) of ``articles`` not annotated yet (and their words)."""
        if self.settings.annotate != "ingest":
            self.backlog.add(a.id for a in articles if self.settings.annotate == "deferred")
            return 0
        return annotate_articles(articles, self.annotator, self.words, self.embedder)

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        on_problem: Callable[[Problem], None] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> IngestResult:
        """Ingest files and directories in atomic batches of articles.

        ``progress(articles_done, chunks_embedded)`` is called after each article
        batch and as chunks are embedded.
        """
        store = self.writable_store()
        result = IngestResult(IngestReport(), [])

        parsing = BesideEmbedding(self.annotator, self.settings.annotate == "ingest")

        def flush(batch: list[Article]) -> None:
            on_chunks = (lambda n: progress(0, n)) if progress else None
            stored = parsing.start(batch)  # queued behind the previous batch's parses
            report = write_articles(store, self.embedder, batch, self.settings, on_chunks)
            parsing.hold(lambda: finish(batch, stored, report))  # runs the previous batch's finish

        def finish(batch: list[Article], stored: Callable[[], int], report: IngestReport) -> None:
            stored()
            self.annotate(batch)
            self.origins.record(batch)
            result.report.merge(report)
            if progress:
                progress(len(batch), 0)

        try:
            for batch in article_batches(paths, INGEST_BATCH, result.problems, on_problem):
                flush(batch)
        finally:
            parsing.close()  # finishes the last batch held
        store.compact()  # a batch ingest ends with its writes folded into the base file, loaded next open
        return result

    def delete(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete documents and their chunks (and their signatures); returns the ids that existed."""
        return self.origins.forget(self.writable_store().delete(doc_ids))

    # -- documents -----------------------------------------------------------------------

    def list_documents(
        self, *, offset: int = 0, limit: int = 50, source: str | None = None
    ) -> tuple[int, list[StoredDocument]]:
        """A page of stored documents ordered by id, and the total count."""
        return self.store.list_documents(offset=offset, limit=limit, source=source)

    def get_document(self, doc_id: str) -> StoredDocument:
        """One stored document; ``NotFound`` if there is none with that id."""
        return self.store.get_document(doc_id)

    def stats(self) -> dict[str, Any]:
        """Documents, chunks, model, dimension and generation of the index; articles not parsed yet."""
        return {**self.store.stats(), "unparsed_articles": self.backlog.count()}

    def check(self) -> list[str]:
        """The index's consistency problems (none: an empty list)."""
        return self.store.check_consistency()
