"""The evidence the answer stages read: candidate sentences of the retrieved passages, and their vectors.

Both the extractive backend (which quotes sentences) and the verifier (which
judges a draft against sentences) work on :class:`Candidate` sentences cut from
the retrieved passages, and both compare them by embedding.  Sentence vectors
stored at ingest are read from the store the cache is attached to
(:meth:`EmbeddingCache.attach`), so a question embeds only what is new.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from qa.ingest.chunk import sentence_spans
from qa.models.embedding import Embedder
from qa.models.nlp import Annotator, joined
from qa.models.words import WordVectors, is_word
from qa.text import content_stems
from qa.types import Passage


class SentenceVectors(Protocol):
    """Where sentence vectors stored at ingest are found (the store)."""

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Candidate:
    """A sentence (or two adjacent ones) of a passage, as an article span."""

    passage: int  # 1-based passage number
    doc_id: str
    start: int
    end: int
    text: str
    before: str = ""  # the sentence before it in the passage (where "he" or "the deal" is named)
    pair: bool = False  # two adjacent sentences
    then: int = 0  # a continuation (:func:`continuations`): where its second sentence starts in ``text``


def candidates(
    passages: Sequence[Passage], numbers: Sequence[int] | None = None, pairs: bool = True
) -> list[Candidate]:
    """Sentences (and adjacent pairs) of the given 1-based passage numbers, deduplicated by span."""
    seen: dict[tuple[str, int, int], int] = {}
    out: list[Candidate] = []
    for n in numbers or range(1, len(passages) + 1):
        p = passages[n - 1]
        spans = [(p.start + s, p.start + e) for s, e in sentence_spans(p.text)]
        units = [(a, b, spans[k - 1] if k else None) for k, (a, b) in enumerate(spans)]
        if pairs:
            units += [(a[0], b[1], None) for a, b in itertools.pairwise(spans)]
        for start, end, prev in units:
            key = (p.doc_id, start, end)
            before = p.text[prev[0] - p.start : prev[1] - p.start] if prev else ""
            if key in seen:
                # Overlapping chunks repeat a sentence; keep the copy that knows the sentence before.
                if before and not out[seen[key]].before:
                    out[seen[key]] = replace(out[seen[key]], before=before)
                continue
            seen[key] = len(out)
            text = p.text[start - p.start : end - p.start]
            out.append(
                Candidate(
                    n, p.doc_id, start, end, text, before, pair=prev is None and (start, end) not in spans
                )
            )
    return out


# A sentence that opens on "he", "she" or "they" goes on about someone the sentence before it names.
_GOES_ON = re.compile(r"(?:He|She|They)\s")
_MAX_GAP = 4  # characters between two sentences of one paragraph (a space, a line break)


class Span(Protocol):
    """A sentence's place in its article (a :class:`Candidate`, a citation)."""

    @property
    def doc_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...


def goes_on(lead: Span, nxt: Span) -> int:
    """The characters between ``lead`` and ``nxt`` when ``nxt`` is the next sentence of ``lead``'s article
    and opens on "he", "she" or "they" (so goes on about who ``lead`` names), else 0."""
    gap = nxt.start - lead.end
    return gap if nxt.doc_id == lead.doc_id and 0 < gap <= _MAX_GAP and _GOES_ON.match(nxt.text) else 0


def continuations(
    leads: Sequence[Candidate], cands: Sequence[Candidate]
) -> list[tuple[Candidate, Candidate]]:
    """``(lead, next)`` for each of ``leads`` whose next sentence in ``cands`` (same passage) goes on
    about who it names (:func:`goes_on`): "Loretta Lynn ... has died. She was 90." states together
    what neither sentence states alone."""
    after = {(c.passage, c.before): c for c in cands if c.before and not c.pair}
    out: list[tuple[Candidate, Candidate]] = []
    for lead in leads:
        nxt = None if lead.pair else after.get((lead.passage, lead.text))
        if nxt is not None and goes_on(lead, nxt):
            out.append((lead, nxt))
    return out


def between(passages: Sequence[Passage], doc_id: str, start: int, end: int) -> str:
    """The article text from ``start`` to ``end`` (what stands between two sentences), read from a
    passage that holds it, else as many spaces."""
    for p in passages:
        if p.doc_id == doc_id and p.start <= start and end <= p.end:
            return p.text[start - p.start : end - p.start]
    return " " * max(0, end - start)


def continued(lead: Candidate, nxt: Candidate, gap: str) -> Candidate:
    """The two sentences as one candidate, ``gap`` (the article's text between them) between them."""
    text = f"{lead.text}{gap}{nxt.text}"
    return Candidate(
        lead.passage, lead.doc_id, lead.start, nxt.end, text, lead.before, True, len(lead.text) + len(gap)
    )


def read_on(
    cands: Sequence[Candidate],
    passages: Sequence[Passage],
    annotator: Annotator,
    min_stems: int,
    keep: bool = False,
) -> list[Candidate]:
    """``cands`` with each sentence whose next one goes on about whom it names in too few words to be
    judged alone ("... has died. He was 91.": fewer than ``min_stems`` content words) read with it: the
    two as one candidate, its parse joined from the two stored ones (put in ``annotator``'s LRU),
    in the sentence's place, or after all of ``cands`` with ``keep``."""
    after = {(c.passage, c.before): c for c in cands if c.before and not c.pair}
    out: list[Candidate] = []
    short: list[tuple[Candidate, Candidate, str]] = []
    for c in cands:
        nxt = None if c.pair else after.get((c.passage, c.text))
        if nxt is not None and goes_on(c, nxt) and len(content_stems(nxt.text)) < min_stems:
            short.append((c, nxt, between(passages, c.doc_id, c.end, nxt.start)))
            if not keep:
                c = continued(*short[-1])
        out.append(c)
    out += [continued(*pair) for pair in short] if keep else []
    parsed = annotator.annotate([t for c, nxt, _ in short for t in (c.text, nxt.text)]) if short else []
    for k, (_, _, gap) in enumerate(short):
        annotator.remember(joined(parsed[2 * k], gap, parsed[2 * k + 1]))
    return out


class EmbeddingCache:
    """Embeds short texts through an LRU cache: passages' sentences recur from question to question."""

    def __init__(
        self,
        embedder: Embedder,
        size: int = 20000,
        stored: SentenceVectors | None = None,
        words: WordVectors | None = None,
    ) -> None:
        self.embedder = embedder
        # Vectors stored at ingest (the store's sentence vectors): fetched before embedding.
        self.stored = stored
        # Word vectors stored at ingest (the lemmas the predicate checks compare); a word
        # embedded here is written back, so the next question finds it.
        self.words = words
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        found: dict[str, np.ndarray] = {}
        stored = self.stored
        if missing and stored is not None:
            found = stored.sentence_vectors(missing)
            missing = [t for t in missing if t not in found]
        words = self.words
        if missing and words is not None:
            found.update(words.get_many([t for t in missing if is_word(t)]))
            missing = [t for t in missing if t not in found]
        if missing:
            fresh = dict(zip(missing, self.embedder.embed(missing, batch_size=32), strict=True))
            found.update(fresh)
            if words is not None:
                words.put_many({t: v for t, v in fresh.items() if is_word(t)})
        with self._lock:
            out = []
            for t in texts:
                vector = found.get(t)
                if vector is None:
                    vector = self._cache[t]
                    self._cache.move_to_end(t)
                out.append(vector)
            self._remember(found)
        return np.vstack(out) if out else np.zeros((0, self.embedder.dimension), dtype=np.float32)

    def known(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of those of ``texts`` cached or stored at ingest; nothing is embedded.

        Corroboration reads every sentence of each retrieved article this way: the
        articles of one story recur from question to question.
        """
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for t in found:
                self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        stored = self.stored
        if missing and stored is not None:
            fresh = stored.sentence_vectors(missing)
            found.update(fresh)
            with self._lock:
                self._remember(fresh)
        return found

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        """Add ``vectors`` to the LRU, dropping the least recent past ``size`` (the lock held)."""
        self._cache.update(vectors)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)

    def attach(self, stored: SentenceVectors) -> None:
        """Read stored sentence vectors from ``stored`` (the store, once it is open) before embedding."""
        self.stored = stored

    def word_similarity(self, word: str, others: Sequence[str]) -> list[float]:
        """Cosine of one word's embedding with each of ``others`` (one batched, cached embed)."""
        vectors = self.embed([word, *others])
        return [float(v) for v in vectors[1:] @ vectors[0]]
