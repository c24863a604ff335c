"""One atomic write of articles into a store: chunk -> embed (reusing stored vectors) -> write.

Here, in the store stage, because it joins the ingest steps (:mod:`qa.ingest`) to a
:class:`~qa.store.ChunkStore`'s writer; :class:`qa.pipeline.Pipeline` calls it for
every ingest path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.config import Settings
from qa.ingest import embed
from qa.ingest.chunk import chunk_article
from qa.ingest.embed import IngestReport
from qa.models.embedding import Embedder
from qa.store.interface import ChunkStore
from qa.types import Article


def write_articles(
    store: ChunkStore,
    embedder: Embedder,
    articles: Sequence[Article],
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Add or replace ``articles`` in one atomic write: chunk -> embed (reusing stored vectors) -> write.

    Under the store's write lock, so the content hashes compared are the ones replaced: unchanged
    articles do no work, unchanged chunk texts keep their vectors.  ``settings`` gives the chunking
    and whether to store sentence vectors; ``progress`` gets the number of chunks embedded.
    """
    if not articles:
        return IngestReport()
    chunking = embed.chunking(settings, embedder.name)
    words, overlap = chunking.chunk_words, chunking.overlap_sentences
    with store.writer() as writer:
        todo = embed.changes(
            articles,
            writer.document_states([a.id for a in articles]),
            chunking,
        )
        chunks = {a.id: chunk_article(a, words, overlap) for a, _ in todo.rewrite}
        prepared = embed.prepare(
            todo,
            chunks,
            embedder,
            writer,
            sentences=settings.sentence_vectors,
            chunking=chunking,
            progress=progress,
        )
        writer.write(prepared)
    return prepared.report
