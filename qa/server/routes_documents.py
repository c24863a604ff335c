"""The document routes: add (JSON or an uploaded file), list, read and delete articles.

Where they sit: the HTTP door of the way in.  Bodies are validated by
:mod:`qa.server.schemas`; turning them (or an uploaded file's bytes) into
articles is the ingest stage's work (:mod:`qa.ingest.load`), and writing them is
the pipeline's.  Writes need a write key (``ctx.writes``); every write is counted
and logged by :class:`~qa.server.observability.Metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter, File, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from qa.errors import BadDocument, NotFound
from qa.ingest.load import Problem, article_from_dict, derived_id, parse_upload
from qa.server.context import ServerContext
from qa.server.schemas import (
    ArticleIn,
    DeletedPublic,
    DocumentPage,
    DocumentPublic,
    DocumentsIn,
    DocumentSummary,
    IngestPublic,
    SkippedPublic,
)
from qa.types import Article

if TYPE_CHECKING:
    from qa.ingest.embed import IngestReport


def add_documents_routes(router: APIRouter, ctx: ServerContext) -> None:
    """Add this module's routes, bound to one app's context, to ``router`` (the app's own).

    Added to the app's router rather than included as a router of their own: the
    405 ``Allow`` header and the metrics' route templates look the routes up there.
    """
    pipe = ctx.pipe

    def ingested(report: IngestReport, skipped: Sequence[Problem] = ()) -> IngestPublic:
        ctx.metrics.record_ingest(report, len(skipped))
        return IngestPublic(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            chunks_embedded=report.chunks_embedded,
            chunks_reused=report.chunks_reused,
            skipped=[SkippedPublic(where=p.where, reason=p.reason) for p in skipped],
        )

    @router.post(
        "/documents",
        response_model=IngestPublic,
        status_code=201,
        summary="Add or replace articles (one, or a batch as {documents: [...]}); unchanged text is not re-embedded",
        dependencies=ctx.writes,
    )
    async def add_documents(body: ArticleIn | DocumentsIn) -> IngestPublic:
        items = body.documents if isinstance(body, DocumentsIn) else [body]
        articles = [article_of(item) for item in items]
        report = await run_in_threadpool(pipe().add_articles, articles)
        return ingested(report)

    @router.post(
        "/documents/upload",
        response_model=IngestPublic,
        status_code=201,
        summary="Upload a .txt, .md, .html or .jsonl file of articles",
        dependencies=ctx.writes,
    )
    async def upload_documents(
        file: UploadFile | str = File(..., description="a .txt, .md, .html or .jsonl file"),
    ) -> IngestPublic:
        if isinstance(file, str):
            # A part without a file name arrives as a form field, already decoded (as UTF-8, or
            # Latin-1 when it isn't): read it as an unnamed file of that text.
            filename, data = "", file.encode("utf-8", "surrogatepass")
        else:
            filename, data = file.filename or "", await file.read()
        articles, skipped = await run_in_threadpool(parse_upload, filename, data)
        if not articles:
            reasons = "; ".join(str(p) for p in skipped[:5]) or "no articles found"
            ctx.metrics.record_ingest(None, len(skipped))
            raise BadDocument(f"nothing ingested from {filename or 'the upload'!r}: {reasons}")
        report = await run_in_threadpool(pipe().add_articles, articles)
        return ingested(report, skipped)

    @router.get(
        "/documents",
        response_model=DocumentPage,
        summary="List documents (paginated)",
        dependencies=ctx.reads,
    )
    async def list_documents(
        offset: int = Query(0, ge=0, le=10_000_000),
        limit: int = Query(50, ge=1, le=500),
        source: str | None = Query(None, max_length=200),
    ) -> DocumentPage:
        total, docs = await run_in_threadpool(
            pipe().list_documents, offset=offset, limit=limit, source=source
        )
        return DocumentPage(
            total=total, offset=offset, limit=limit, documents=[DocumentSummary.of(d) for d in docs]
        )

    @router.get(
        "/documents/{doc_id}",
        response_model=DocumentPublic,
        summary="One document with its text",
        dependencies=ctx.reads,
    )
    async def get_document(doc_id: str) -> DocumentPublic:
        d = await run_in_threadpool(pipe().get_document, doc_id)
        return DocumentPublic(**DocumentSummary.of(d).model_dump(), text=d.text)

    @router.delete(
        "/documents/{doc_id}",
        response_model=DeletedPublic,
        summary="Delete a document and its chunks",
        dependencies=ctx.writes,
    )
    async def delete_document(doc_id: str) -> DeletedPublic:
        deleted = await run_in_threadpool(pipe().delete, [doc_id])
        if not deleted:
            raise NotFound(f"no document with id {doc_id!r}")
        return DeletedPublic(deleted=doc_id)


def article_of(item: ArticleIn) -> Article:
    """The article an API body describes; without an id, :func:`~qa.ingest.load.derived_id` of its URL or text."""
    data = item.model_dump()
    data.update(
        id=item.id or derived_id(item.url or item.text),
        published_at=item.published_at.isoformat() if item.published_at else None,
    )
    return article_from_dict(data)
