"""A mapping in two layers, so a write costs what it changes: a shared base and a small overlay.

The chunk metadata of a snapshot (:mod:`qa.store.segments` explains the base / delta / tombstones
scheme the vectors and keywords share): a large base dict built once and never mutated, plus an
overlay of entries written since and the base keys removed since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")
T = TypeVar("T")


class LayeredMap(Mapping[int, V], Generic[V]):
    """An immutable id -> value mapping: a shared base dict, a small overlay, removed base keys."""

    __slots__ = ("_base", "_len", "_overlay", "_removed", "_shared")

    def __init__(
        self,
        base: dict[int, V],
        overlay: dict[int, V] | None = None,
        removed: frozenset[int] = frozenset(),
        shared: dict[str, object] | None = None,
    ) -> None:
        self._base = base
        self._overlay = overlay or {}
        self._removed = removed
        self._shared = shared if shared is not None else {}
        self._len = len(base) - len(removed) + sum(1 for k in self._overlay if k not in base)

    def __getitem__(self, key: int) -> V:
        if key in self._overlay:
            return self._overlay[key]
        if key in self._removed:
            raise KeyError(key)
        return self._base[key]

    def __contains__(self, key: object) -> bool:
        return key in self._overlay or (key in self._base and key not in self._removed)

    def __iter__(self) -> Iterator[int]:
        overlay, removed = self._overlay, self._removed
        for key in self._base:
            if key not in removed and key not in overlay:
                yield key
        yield from overlay

    def __len__(self) -> int:
        return self._len

    @property
    def pending(self) -> int:
        """Entries outside the base: what a compaction would fold in."""
        return len(self._overlay) + len(self._removed)

    def evolve(self, put: Mapping[int, V], drop: Iterable[int]) -> LayeredMap[V]:
        """A new map with ``drop`` removed and ``put`` set; copies only the overlay."""
        overlay = dict(self._overlay)
        removed = set(self._removed)
        for key in drop:
            overlay.pop(key, None)
            if key in self._base:
                removed.add(key)
        for key, value in put.items():
            overlay[key] = value
        return LayeredMap(self._base, overlay, frozenset(removed), self._shared)

    @property
    def overlay(self) -> Mapping[int, V]:
        return self._overlay

    @property
    def removed(self) -> frozenset[int]:
        return self._removed

    def derived(self, key: str, build: Callable[[dict[int, V]], T]) -> T:
        """``build(base)``, computed once per base and shared by every map evolved from it."""
        if key not in self._shared:
            self._shared[key] = build(self._base)
        return self._shared[key]  # type: ignore[return-value]

    def flatten(self) -> LayeredMap[V]:
        """The same mapping with everything in one new base (an O(n) copy: compaction only)."""
        return LayeredMap(dict(self.items()))
