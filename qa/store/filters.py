"""Metadata filters: which live chunks a search may return (sources, a date range, an as-of date).

Applied by the snapshot (:func:`allowed_ids`): vectorized over the base's
metadata columns, which are computed once per base and shared by every snapshot
derived from it, and per chunk over the small overlay of chunks written since.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from qa.store.records import ChunkMeta
from qa.store.segments import LayeredMap


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some sources and a publication-date range (inclusive), and an as-of date."""

    sources: tuple[str, ...] = ()
    published_after: str | None = None
    published_before: str | None = None
    as_of: str | None = None

    def at(self, as_of: str | None) -> Filters:
        """These filters with ``as_of`` set (unchanged if ``as_of`` is None)."""
        return dataclasses.replace(self, as_of=as_of) if as_of else self

    def active(self) -> bool:
        return bool(self.sources or self.published_after or self.published_before or self.as_of)

    def allows(self, source: str, published_at: str | None) -> bool:
        if self.sources and source.casefold() not in {s.casefold() for s in self.sources}:
            return False
        if self.published_after and (published_at is None or published_at < self.published_after):
            return False
        if self.published_before and (published_at is None or published_at > self.published_before):
            return False
        # An as-of question can't be answered by an article written after it.
        return not (self.as_of and published_at is not None and published_at > self.as_of)


def _filter_columns(base: dict[int, ChunkMeta]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, casefolded sources and publication dates ("" if none) of a base, as arrays."""
    ids = np.fromiter(base, dtype=np.int64, count=len(base))
    sources = np.array([m.source.casefold() for m in base.values()], dtype=str)
    published = np.array([m.published_at or "" for m in base.values()], dtype=str)
    return ids, sources, published


def allowed_ids(chunks: LayeredMap[ChunkMeta], filters: Filters) -> np.ndarray | None:
    """Live ids passing ``filters``, or None when they filter nothing."""
    if not filters.active():
        return None
    ids, sources, published = chunks.derived("filter_columns", _filter_columns)
    mask = np.ones(len(ids), dtype=bool)
    if filters.sources:
        mask &= np.isin(sources, [s.casefold() for s in filters.sources])
    # Undated chunks are stored as "": they fail a date range and pass an as-of date.
    if filters.published_after:
        mask &= (published != "") & (published >= filters.published_after)
    if filters.published_before:
        mask &= (published != "") & (published <= filters.published_before)
    if filters.as_of:
        mask &= (published == "") | (published <= filters.as_of)
    allowed = ids[mask]
    stale = chunks.removed | set(chunks.overlay)
    if stale:
        allowed = allowed[~np.isin(allowed, np.fromiter(stale, np.int64, len(stale)))]
    extra = [i for i, m in chunks.overlay.items() if filters.allows(m.source, m.published_at)]
    return np.concatenate([allowed, np.array(extra, dtype=np.int64)]) if extra else allowed
