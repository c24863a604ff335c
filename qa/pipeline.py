"""The only module that knows the order of the stages.

``load_articles -> chunk_article -> embed.prepare -> Store.writer().write`` on the
way in (the store stores: it neither chunks nor embeds); ``Retriever.search ->
Backend.draft -> Verifier.verify -> Answer`` on the way out.  Models and the index load on first use (or in ``warm_up``) and
are shared by every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import assess as answering
from qa.answer.backends import Backend, Turn, get_backend
from qa.answer.retrieve import Filters, Mode, Retriever
from qa.answer.verify import NOT_FOUND, EmbeddingCache, Verified, Verifier
from qa.config import Settings
from qa.errors import BackendNotEnabled, BadQuestion, IndexNotBuilt
from qa.ingest import embed
from qa.ingest.chunk import chunk_article, sentence_spans
from qa.ingest.embed import IngestReport
from qa.ingest.load import Problem, has_lone_surrogate, load_articles
from qa.models.embedding import Embedder, SentenceTransformerEmbedder
from qa.models.nlp import AnnotationStore, Annotator
from qa.store import BUILD_HINT, Store, StoredDocument, index_exists
from qa.types import Answer, Article, Citation, Passage, Question, ShortAnswer

INGEST_BATCH = 64


@dataclass
class IngestResult:
    """What an ingest did, and what it skipped."""

    report: IngestReport
    problems: list[Problem]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def recent_turns(history: Sequence[Turn], max_chars: int) -> list[Turn]:
    """The latest turns of a conversation within ``max_chars`` characters in all.

    What a backend condenses (an LLM prompt) is bounded however long the
    conversation: older turns go first, and the oldest turn kept may be cut to
    its end (a question's words are at its end).
    """
    kept: list[Turn] = []
    budget = max_chars
    for turn in reversed(history):
        if budget <= 0:
            break
        content = turn.content if len(turn.content) <= budget else turn.content[-budget:]
        kept.append(Turn(turn.role, content))
        budget -= len(content)
    kept.reverse()
    return kept


def write_articles(
    store: Store,
    embedder: Embedder,
    articles: Sequence[Article],
    *,
    chunk_words: int = 120,
    overlap_sentences: int = 1,
    sentences: bool = True,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Add or replace ``articles`` in one atomic write: chunk -> embed (reusing stored vectors) -> write.

    Runs under the store's write lock, so the stored content hashes it compares
    against are the ones it replaces.  Unchanged articles do no work; a changed
    article's chunks are replaced, and chunks whose text is unchanged keep their
    stored vectors.  ``sentences`` also stores each chunk's sentence vectors;
    ``progress`` is called with the number of chunks embedded as work proceeds.
    """
    if not articles:
        return IngestReport()
    chunking = embed.Chunking(embedder.name, chunk_words, overlap_sentences)
    with store.writer() as writer:
        todo = embed.changes(articles, writer.document_states([a.id for a in articles]), chunking)
        chunks = {a.id: chunk_article(a, chunk_words, overlap_sentences) for a, _ in todo.rewrite}
        prepared = embed.prepare(todo, chunks, embedder, writer, sentences=sentences, progress=progress)
        writer.write(prepared)
    return prepared.report


class Pipeline:
    """Wires the stages together for the CLI, the HTTP API and the eval harness."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model, settings.embed_batch_size, settings.embed_precision
        )
        self.embeddings = EmbeddingCache(self.embedder, lookup=self._stored_sentence_vectors)
        # Sentence annotations live beside the index, keyed by sentence text.
        self.annotator = Annotator(AnnotationStore(settings.index_dir))
        self.verifier = Verifier(self.embeddings, settings.answer_min_support, annotator=self.annotator)
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    # -- components --------------------------------------------------------------------

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    def _open_store(self, create: bool) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    if not create and not index_exists(self.index_dir):
                        raise IndexNotBuilt(f"no index in {self.index_dir}: build it with `{BUILD_HINT}`")
                    self._store = Store(
                        self.index_dir,
                        self.embedder,
                        ann_threshold=self.settings.ann_threshold,
                        create=create,
                    )
        return self._store

    def _stored_sentence_vectors(self, texts: Sequence[str]) -> dict[str, Any]:
        # Only a store that is already open: a lookup must never create or wait for one.
        return self._store.sentence_vectors(texts) if self._store is not None else {}

    @property
    def store(self) -> Store:
        """The store, opened on first use; ``IndexNotBuilt`` if there is none."""
        return self._open_store(create=False)

    def writable_store(self) -> Store:
        """The store, created if missing (for writes)."""
        return self._open_store(create=True)

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(
                self.store,
                self.embedder,
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
        self.backend()
        if index_exists(self.index_dir):
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
        if index_exists(self.index_dir):
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
        """The ``k`` best passages for a question (``k`` defaults to ``settings.top_k``)."""
        return self._retrieve(self.check_question(question), k, filters=filters, mode=mode, as_of=as_of)

    def _retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        filters: Filters | None = None,
        mode: Mode | None = None,
        as_of: str | None = None,
    ) -> list[Passage]:
        # No length check here: a condensed question may rightly be longer than what the user typed,
        # which ``_prepare`` has checked.
        filters = (filters or Filters()).at(as_of)
        if self.store.snapshot().size == 0:
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

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        backend: str | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
        as_of: str | None = None,
    ) -> Answer:
        """Answer a question with verified citations; ``answered`` is False when the articles don't say."""
        total = time.perf_counter()
        standalone, chosen, timings = self._prepare(question, history=history, backend=backend)
        start = time.perf_counter()
        passages = self._retrieve(standalone.retrieval_text, top_k, filters=filters, as_of=as_of)
        timings["retrieve_ms"] = _ms(start)
        start = time.perf_counter()
        draft = chosen.draft(standalone, passages)
        timings["generate_ms"] = _ms(start)
        return self._finish(draft, passages, chosen, timings, total, standalone)

    def ask_stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        backend: str | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
        as_of: str | None = None,
    ) -> Iterator[tuple[str, Any]]:
        """Yield ``("token", text)`` as the backend produces it, then ``("final", Answer)``.

        Validation, retrieval and the first backend call happen before the first
        yield, so errors there surface as ordinary exceptions.
        """
        total = time.perf_counter()
        standalone, chosen, timings = self._prepare(question, history=history, backend=backend)
        start = time.perf_counter()
        passages = self._retrieve(standalone.retrieval_text, top_k, filters=filters, as_of=as_of)
        timings["retrieve_ms"] = _ms(start)
        start = time.perf_counter()
        pieces = chosen.stream(standalone, passages)
        first = next(pieces, None)

        def events() -> Iterator[tuple[str, Any]]:
            parts: list[str] = []
            if first is not None:
                parts.append(first)
                yield "token", first
            for piece in pieces:
                parts.append(piece)
                yield "token", piece
            timings["generate_ms"] = _ms(start)
            yield "final", self._finish("".join(parts), passages, chosen, timings, total, standalone)

        return events()

    def _finish(
        self,
        draft: str,
        passages: list[Passage],
        backend: Backend,
        timings: dict[str, float],
        total: float,
        standalone: Question,
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
            self._assess(answer, standalone)
            timings["assess_ms"] = _ms(start)
        timings["total_ms"] = _ms(total)
        return answer

    def _assess(self, answer: Answer, question: Question) -> None:
        """Score each citation against the question, find the short answer, decline if unsure."""
        follow_up = question.text
        info = answering.analyze(self.annotator.annotate([follow_up], persist=False)[0])
        texts = [c.text for c in answer.citations]
        vectors = self.embeddings.embed([follow_up, *texts])
        sents = self.annotator.annotate(texts)
        scored: list[tuple[float, Citation, answering.SentenceFit, object]] = []
        for k, (citation, sent) in enumerate(zip(answer.citations, sents, strict=True)):
            relevance = float(np.clip(vectors[k + 1] @ vectors[0], 0.0, 1.0))
            fit = answering.assess(info, sent, relevance, word_similarity=self._word_similarity)
            quality = relevance * (0.5 + 0.5 * fit.predicate) * (0.5 + 0.5 * fit.coverage)
            scored.append((quality, citation, fit, sent))
        answer.citations = [replace(c, score=round(q, 4)) for q, c, _, _ in scored]
        quality, best, fit, sent = max(scored, key=lambda s: s[0])
        support = sum(c.support for c in answer.citations) / len(answer.citations)
        rank = next(
            (
                k
                for k, p in enumerate(answer.passages)
                if p.doc_id == best.doc_id and p.start <= best.start and best.end <= p.end
            ),
            len(answer.passages),
        )
        feats = answering.features(info, sent, fit, support=support, cited=len(answer.citations), rank=rank)  # type: ignore[arg-type]
        answer.confidence = answering.confidence(feats)
        answer.features = feats
        ent = answering.best_answer(info, sent, fit)  # type: ignore[arg-type]
        if ent is not None:
            answer.short_answer = ShortAnswer(
                ent.text, best.doc_id, best.start + ent.start, best.start + ent.end, best.n
            )
        # Whatever the backend, an answer that holds nothing of what was asked is no answer: asked
        # how many were injured, sentences that state no such number; asked about Kharkiv,
        # passages that never name it.
        off_question = (info.types and not any(f.answers for _, _, f, _ in scored)) or bool(
            answering.names_missing(info, [t for p in answer.passages for t in (p.text, p.title)])
        )
        if off_question or answer.confidence < self.settings.min_confidence:
            answer.unsupported = [*answer.unsupported, *(c.text for c in answer.citations)]
            answer.answer, answer.answered, answer.citations, answer.short_answer = NOT_FOUND, False, [], None

    def _word_similarity(self, word: str, others: Sequence[str]) -> list[float]:
        """Cosine of one word's embedding with each of ``others`` (one batched, cached embed)."""
        vectors = self.embeddings.embed([word, *others])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    # -- writes ----------------------------------------------------------------------

    def _write(
        self, store: Store, articles: Sequence[Article], progress: Callable[[int], None] | None
    ) -> IngestReport:
        return write_articles(
            store,
            self.embedder,
            articles,
            chunk_words=self.settings.chunk_words,
            overlap_sentences=self.settings.chunk_overlap_sentences,
            sentences=self.settings.sentence_vectors,
            progress=progress,
        )

    def add_articles(
        self, articles: Sequence[Article], progress: Callable[[int], None] | None = None
    ) -> IngestReport:
        """Add or replace articles (one atomic write, see :func:`write_articles`), then annotate them."""
        report = self._write(self.writable_store(), articles, progress)
        self.annotate(articles)
        return report

    def annotate(self, articles: Sequence[Article]) -> int:
        """Parse and store the sentences (and titles) of ``articles`` not annotated yet."""
        if self.settings.annotate != "ingest":
            return 0
        texts = [a.title for a in articles if a.title]
        for a in articles:
            texts.extend(a.text[s:e] for s, e in sentence_spans(a.text))
        return self.annotator.annotate_new(texts)

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
        batch: list[Article] = []
        done = 0

        def flush() -> None:
            nonlocal done
            if not batch:
                return
            report = self._write(store, batch, (lambda n: progress(0, n)) if progress else None)
            self.annotate(batch)
            result.report.merge(report)
            done += len(batch)
            if progress:
                progress(len(batch), 0)
            batch.clear()

        for item in load_articles(paths):
            if isinstance(item, Problem):
                result.problems.append(item)
                if on_problem:
                    on_problem(item)
                continue
            batch.append(item)
            if len(batch) >= INGEST_BATCH:
                flush()
        flush()
        # A batch ingest ends with its writes folded into the base file, so the next open loads it.
        store.compact()
        return result

    def delete(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete documents and their chunks; returns the ids that existed."""
        return self.writable_store().delete(doc_ids)

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
        """Documents, chunks, model, dimension and generation of the index."""
        return self.store.stats()

    def check(self) -> list[str]:
        """The index's consistency problems (none: an empty list)."""
        return self.store.check_consistency()
