"""Choosing passages from a ranked list so that copies of one text don't crowd out other articles.

Retrieval ranks chunks, and a wire report carried by three outlets (or the same
article under two URLs) ranks three times.  :func:`spread` takes the store's
ranked passages and returns:

* the answer's ``k`` passages: the best first, skipping a passage whose article is
  a copy of an article already chosen (:meth:`qa.ingest.dedup.OriginIndex.groups`;
  several chunks of one article are kept), topped up from the skipped ones when too
  few remain;
* then, for corroboration, more passages up to ``total``, at most ``per_article``
  from any one article, copies included (they are what "3 outlets carry the same
  wire report" counts).

Linear in the passages, plus the origin lookup (one SQLite read and a comparison per
pair of distinct articles, a few dozen at most).
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.ingest.dedup import OriginIndex
from qa.types import Passage


def spread(
    ranked: Sequence[Passage],
    k: int,
    total: int,
    origins: OriginIndex | None,
    per_article: int = 2,
) -> list[Passage]:
    """The answer's ``k`` passages (one origin per text), then more for corroboration, ``total`` in all."""
    groups = origins.groups([p.doc_id for p in ranked]) if origins is not None else []
    origin = {doc: group[0] for group in groups for doc in group}
    chosen: list[Passage] = []
    skipped: list[Passage] = []
    taken: dict[str, str] = {}  # origin -> the doc id chosen for it
    for p in ranked:
        if len(chosen) == k:
            break
        key = origin.get(p.doc_id, p.doc_id)
        if taken.setdefault(key, p.doc_id) == p.doc_id:
            chosen.append(p)
        else:
            skipped.append(p)
    chosen += skipped[: k - len(chosen)]
    picked = {id(p) for p in chosen}
    count: dict[str, int] = {}
    for p in chosen:
        count[p.doc_id] = count.get(p.doc_id, 0) + 1
    more: list[Passage] = []
    for p in ranked:
        if len(chosen) + len(more) >= total:
            break
        if id(p) in picked or count.get(p.doc_id, 0) >= per_article:
            continue
        count[p.doc_id] = count.get(p.doc_id, 0) + 1
        more.append(p)
    return chosen + more
