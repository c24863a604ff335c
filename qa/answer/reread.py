"""More of each retrieved article for corroboration: its sentences closest to the asked fact.

A retrieved passage is one chunk of an article; the article may state the answer's
fact in another chunk (a lede that names the answer, a later paragraph that repeats
it).  :func:`more_of_articles` reads, for each article among the passages, its
other sentences whose vectors were stored at ingest (no model call), ranks them by
cosine with the question and with the answer's cited sentences, and returns the
best ``per_article`` of each (at least ``MIN_COSINE``) as short passages (the
sentence with the one before it, where "he" or "the deal" is named), for
:func:`qa.answer.corroborate.corroborate` to score and judge like the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from qa.errors import NotFound
from qa.ingest.chunk import sentence_spans
from qa.store import StoredDocument
from qa.types import Passage


class Articles(Protocol):
    """Where articles and their sentence vectors stored at ingest are found (the store)."""

    def get_document(self, doc_id: str) -> StoredDocument: ...

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...


# Least cosine with the question or a cited sentence for an article's sentence to be read.
MIN_COSINE = 0.5


def more_of_articles(
    passages: Sequence[Passage],
    articles: Articles,
    asked: Sequence[np.ndarray],
    per_article: int,
    vectors: Callable[[Sequence[str]], dict[str, np.ndarray]] | None = None,
) -> list[Passage]:
    """Up to ``per_article`` sentences of each article of ``passages`` that they do not hold.

    ``articles`` holds the articles' texts and sentence vectors; ``asked`` are the vectors
    the sentences are ranked by (the question's, the cited sentences'); ``vectors`` looks the
    stored vectors up (default ``articles.sentence_vectors``; a cache in front of it).
    """
    if per_article <= 0 or not passages or not asked:
        return []
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    target = np.vstack(asked)
    # Each article's sentences outside the passages read, then their stored vectors in one query.
    fresh: dict[str, tuple[str, list[tuple[int, int]], list[int]]] = {}
    for doc_id, read in by_doc.items():
        try:
            text = articles.get_document(doc_id).text
        except NotFound:  # deleted since it was retrieved
            continue
        spans = sentence_spans(text)
        unread = [
            k
            for k, (a, b) in enumerate(spans)
            if b - a > 1 and not any(p.start <= a and b <= p.end for p in read)
        ]
        fresh[doc_id] = (text, spans, unread)
    found = (vectors or articles.sentence_vectors)(
        [text[spans[k][0] : spans[k][1]] for text, spans, unread in fresh.values() for k in unread]
    )
    out: list[Passage] = []
    for doc_id, (text, spans, unread) in fresh.items():
        kept = [k for k in unread if text[spans[k][0] : spans[k][1]] in found]
        if not kept:
            continue
        matrix = np.vstack([found[text[spans[k][0] : spans[k][1]]] for k in kept])
        cosine = (matrix @ target.T).max(axis=1)
        best = [kept[i] for i in np.argsort(-cosine)[:per_article] if cosine[i] >= MIN_COSINE]
        first = by_doc[doc_id][0]
        for k in sorted(best):
            start, end = spans[k - 1][0] if k else spans[k][0], spans[k][1]
            meta = (first.title, first.source, first.published_at)
            out.append(Passage(-1, doc_id, *meta, start, end, text[start:end], 0.0))
    return out
