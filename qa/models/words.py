"""Word vectors stored beside the index, so answering a question embeds no single words.

The extractive answerer and the verifier compare the question's predicate with the
verbs and nouns of candidate sentences by the cosine of their embeddings ("injured"
vs "wounded", see :mod:`qa.answer.assess`).  Embedding those words at question time
cost about 40 words per question, most of ``/ask``'s time on the news index.  Words
are the lemmas of the corpus's sentences, so they are embedded once, at ingest
(:meth:`qa.pipeline.Pipeline.annotate`), and stored here (``words.sqlite`` in the
index directory, float16, 768 bytes a word for MiniLM); a word met only at question
time is embedded then and stored too (write-through), so an index built before this
table existed fills it as it answers, and re-running ``qa ingest`` fills it at once.

The table records the model that made its vectors: opened with another model, it
starts empty.  It is a cache: a failed read or write costs an embedding, never an
answer.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.models.nlp import NAME_TYPES, Sent
from qa.sqlite_local import ThreadConnections

log = logging.getLogger(__name__)

WORDS_NAME = "words.sqlite"
# A stored "word" is one lemma: no whitespace, at most this long.
MAX_WORD_CHARS = 48
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, vector BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS typed (sentence TEXT, noun TEXT, label TEXT, PRIMARY KEY (sentence, noun, label));"
    "CREATE INDEX IF NOT EXISTS typed_noun ON typed(noun);"
    "CREATE TABLE IF NOT EXISTS named (sentence TEXT, name TEXT, label TEXT, PRIMARY KEY (sentence, name, label));"
    "CREATE INDEX IF NOT EXISTS named_name ON named(name)"
)
_BATCH = 500
# A noun's entity types are trusted from this many typed mentions on; a type is the noun's
# when at least this share of its mentions have it (spaCy's own consistent mislabels included).
MIN_TYPED = 8
MIN_TYPE_SHARE = 0.1
# A name can be of a type when it is named this often, with this share of its mentions of that
# type: spaCy's errors on a name are systematic, so a majority vote would keep them.
MIN_NAMED = 3
MIN_NAME_SHARE = 0.2
MAX_NAME_CHARS = 100
# Dependency relations by which a common noun types a name: "rider Tadej Pogacar" (compound),
# "Rolle, a county" (appos).
_TYPING = frozenset({"compound", "nmod", "appos"})


def is_word(text: str) -> bool:
    """Whether ``text`` is something this table stores (one short token, no whitespace)."""
    return 0 < len(text) <= MAX_WORD_CHARS and not any(c.isspace() for c in text)


def typing_nouns(sent: Sent) -> list[tuple[str, str]]:
    """``(noun lemma, entity label)`` for each name a common noun says the kind of.

    "investment bank Goldman Sachs", "the city of Sumy", "Rolle, a county in
    Switzerland": counted over a corpus, these say which entity types answer "which
    bank / city / county" (see :meth:`WordVectors.noun_labels`).  A name modifying the
    noun is not counted: "a Texas hospital" names where the hospital is, not the hospital.
    """
    toks = sent.toks
    out: list[tuple[str, str]] = []
    for ent in sent.ents:
        if ent.label not in NAME_TYPES:
            continue
        inside = range(ent.first, ent.last + 1)
        last = toks[ent.last]
        nouns = [
            j
            for j in range(len(toks))
            if j not in inside and toks[j].head in inside and toks[j].dep in _TYPING
        ]
        if last.head not in inside and last.dep == "appos":
            nouns.append(last.head)  # "the law firm, Wilkie Farr"
        if last.dep == "pobj" and toks[last.head].lemma == "of":
            nouns.append(toks[last.head].head)  # "the city of Sumy"
        out.extend((toks[j].lemma, ent.label) for j in dict.fromkeys(nouns) if toks[j].pos == "NOUN")
    return out


def name_key(text: str) -> str:
    """A name as counted: its words, without a leading "the" ("the IMF" is "IMF")."""
    words = text.split()
    if words and words[0].lower() == "the":
        words = words[1:]
    return " ".join(words)[:MAX_NAME_CHARS]


def naming(sent: Sent) -> list[tuple[str, str]]:
    """``(name, entity label)`` for each name in ``sent``: counted over a corpus, the types a
    name's mentions have (see :func:`relabeled`)."""
    return [(key, e.label) for e in sent.ents if e.label in NAME_TYPES and (key := name_key(e.text))]


def relabeled(
    sents: Sequence[Sent], words: WordVectors | None, types: frozenset[str], labels: frozenset[str] | None
) -> list[Sent]:
    """``sents`` with a name spaCy typed outside the wanted ``types`` (and ``labels``, if any) retyped
    as a wanted type the corpus gives a fair share of its mentions (:meth:`WordVectors.name_labels`):
    spaCy calls "Sri Lanka" a person in 21 of 45 news mentions, "Rihanna" a place in 26 of 35."""
    wanted = types & labels if labels is not None else types
    if words is None or not wanted:
        return list(sents)
    names = {name_key(e.text) for sent in sents for e in sent.ents if e.label in NAME_TYPES - wanted}
    votes = words.name_labels(sorted(names))
    out: list[Sent] = []
    for sent in sents:
        toks = list(sent.toks)
        for e in sent.ents:
            if e.label in wanted or e.label not in NAME_TYPES:
                continue
            vote = next((label for label in votes.get(name_key(e.text), ()) if label in wanted), None)
            if vote is not None:
                toks[e.first : e.last + 1] = [replace(t, ent=vote) for t in toks[e.first : e.last + 1]]
        out.append(sent if toks == list(sent.toks) else Sent(sent.text, tuple(toks)))
    return out


class WordVectors:
    """``words.sqlite``: lemma -> unit vector (float16), for one embedding model. Thread-safe."""

    def __init__(self, index_dir: Path, model: str) -> None:
        self.path = Path(index_dir) / WORDS_NAME
        self.model = model
        self._conns = ThreadConnections(self.path, "SELECT 1")
        self._checked = False

    def _conn(self) -> sqlite3.Connection:
        conn = self._conns.get()
        if not self._checked:
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
            if row is None or row[0] != self.model:
                # Vectors of another model are not comparable with this one's: start afresh.
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM words")
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('model', ?)", (self.model,))
                conn.execute("COMMIT")
            self._checked = True
        return conn

    def get_many(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors (float32) of those ``words`` the table has."""
        wanted = [w for w in dict.fromkeys(words) if is_word(w)]
        if not wanted or not self.path.parent.exists():
            return {}
        out: dict[str, np.ndarray] = {}
        try:
            conn = self._conn()
            for i in range(0, len(wanted), _BATCH):
                part = wanted[i : i + _BATCH]
                marks = ",".join("?" * len(part))
                for word, blob in conn.execute(
                    f"SELECT word, vector FROM words WHERE word IN ({marks})", part
                ):
                    out[word] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        except sqlite3.Error as exc:
            log.warning("word vectors %s are unreadable (%s); embedding instead", self.path, exc)
            self._conns.drop()
            self._checked = False
            return {}
        return out

    def missing(self, words: Sequence[str]) -> list[str]:
        """Those ``words`` (storable ones, each once) the table has no vector for."""
        wanted = [w for w in dict.fromkeys(words) if is_word(w)]
        have = self.get_many(wanted)
        return [w for w in wanted if w not in have]

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        """Store ``vectors`` (word -> unit vector); non-words are skipped."""
        rows = [(w, np.asarray(v, dtype=np.float16).tobytes()) for w, v in vectors.items() if is_word(w)]
        self._write("INSERT OR REPLACE INTO words(word, vector) VALUES (?, ?)", rows, "word vectors")

    def add_typed(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Record ``(sentence key, noun, label)`` typings (idempotent: a sentence counts once)."""
        self._write(
            "INSERT OR IGNORE INTO typed(sentence, noun, label) VALUES (?, ?, ?)", rows, "noun typings"
        )

    def add_named(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Record ``(sentence key, name, label)`` mentions (idempotent: a sentence counts once)."""
        self._write("INSERT OR IGNORE INTO named(sentence, name, label) VALUES (?, ?, ?)", rows, "names")

    def name_labels(self, names: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """For each of ``names`` mentioned at least ``MIN_NAMED`` times, the types of at least
        ``MIN_NAME_SHARE`` of its mentions, the most frequent first (others are left out)."""
        if not names or not self.path.exists():
            return {}
        counts: dict[str, dict[str, int]] = {}
        try:
            conn = self._conn()
            for i in range(0, len(names), _BATCH):
                part = names[i : i + _BATCH]
                marks = ",".join("?" * len(part))
                sql = f"SELECT name, label, COUNT(*) FROM named WHERE name IN ({marks}) GROUP BY name, label"
                for name, label, n in conn.execute(sql, part):
                    counts.setdefault(name, {})[label] = n
        except sqlite3.Error:
            return {}
        out: dict[str, tuple[str, ...]] = {}
        for name, by_label in counts.items():
            total = sum(by_label.values())
            if total >= MIN_NAMED:
                ranked = sorted(by_label.items(), key=lambda kv: -kv[1])
                out[name] = tuple(label for label, n in ranked if n >= MIN_NAME_SHARE * total)
        return out

    def _write(self, sql: str, rows: Sequence[tuple[object, ...]], what: str) -> None:
        """One transaction; a cache, so a failed write is logged and only costs work later."""
        if not rows or not self.path.parent.exists():
            return
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            live = self._conns.current()
            if live is not None:
                with contextlib.suppress(sqlite3.Error):
                    live.execute("ROLLBACK")
            log.warning("could not store %s: %s", what, exc)

    def noun_labels(self, noun: str) -> frozenset[str] | None:
        """The entity types that name a ``noun`` in this corpus, or ``None`` if it has too few mentions."""
        if not noun or not self.path.exists():
            return None
        try:
            rows = self._conn().execute(
                "SELECT label, COUNT(*) FROM typed WHERE noun = ? GROUP BY label", (noun,)
            )
            counts = dict(rows.fetchall())
        except sqlite3.Error:
            return None
        total = sum(counts.values())
        if total < MIN_TYPED:
            return None
        return frozenset(label for label, n in counts.items() if n >= MIN_TYPE_SHARE * total)

    def count(self) -> int:
        if not self.path.exists():
            return 0
        return int(self._conn().execute("SELECT COUNT(*) FROM words").fetchone()[0])
