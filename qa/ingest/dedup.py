"""Near-duplicate articles: MinHash signatures computed at ingest, and origin groups looked up at answer time.

Wire copies and the same article under two URLs must count as one origin when
an answer says who reports a fact.  At ingest (:meth:`Pipeline.ingest`,
:meth:`Pipeline.add_articles`) each article's normalized text is cut into word
5-gram shingles and summarized by a MinHash signature (``PERMUTATIONS`` fixed
hash permutations, linear in the text's length); signatures live beside the
index in their own small SQLite file (``origins.sqlite``), not in the store's
tables.  At answer time :meth:`OriginIndex.groups` says which of a few doc ids
are copies of each other.

Two texts are copies when their estimated Jaccard similarity is high, or when
one is (almost) contained in the other and they still share a good part of their
shingles (a truncated copy); a short page that merely quotes a long article
(a photo caption) shares too small a part of the union to count.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.sqlite_local import ThreadConnections
from qa.types import Article

log = logging.getLogger(__name__)

ORIGINS_NAME = "origins.sqlite"
PERMUTATIONS = 256
SHINGLE_WORDS = 5
# Copies: Jaccard >= JACCARD_MIN, or containment >= CONTAINMENT_MIN with Jaccard >= PARTIAL_JACCARD_MIN.
JACCARD_MIN = 0.5
CONTAINMENT_MIN = 0.85
PARTIAL_JACCARD_MIN = 0.2
MIN_SHINGLES = 10  # fewer shingles than this: too little text to call anything a copy

_PRIME = (1 << 61) - 1
_MAX_HASH = (1 << 32) - 1
_rng = np.random.RandomState(1)  # fixed seeds: signatures are comparable across runs and machines
_A = _rng.randint(1, _PRIME, size=PERMUTATIONS, dtype=np.uint64) & np.uint64(_MAX_HASH)
_B = _rng.randint(0, _PRIME, size=PERMUTATIONS, dtype=np.uint64) & np.uint64(_MAX_HASH)
_WORD = re.compile(r"\w+")


def normalize(text: str) -> list[str]:
    """The words of ``text``: NFKC, lower case, punctuation (curly or straight) dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[int]:
    """32-bit hashes of the word ``size``-grams of the normalized text (the whole text if shorter)."""
    words = normalize(text)
    grams = [" ".join(words[i : i + size]) for i in range(max(len(words) - size + 1, 1))] if words else []
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams}


@dataclass(frozen=True)
class Signature:
    """An article's MinHash signature and how many distinct shingles it summarizes."""

    values: np.ndarray  # (PERMUTATIONS,) uint32
    size: int

    @classmethod
    def of(cls, text: str) -> Signature:
        hashes = np.fromiter(shingles(text), dtype=np.uint64)
        if not len(hashes):
            return cls(np.full(PERMUTATIONS, _MAX_HASH, dtype=np.uint32), 0)
        # (a * x + b) mod p, x and a below 2**32 so the product fits 64 bits; then kept to 32 bits.
        permuted = (np.outer(hashes, _A) + _B) % np.uint64(_PRIME) & np.uint64(_MAX_HASH)
        return cls(permuted.min(axis=0).astype(np.uint32), len(hashes))

    def jaccard(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        if not self.size or not other.size:
            return 0.0
        return float(np.mean(self.values == other.values))

    def containment(self, other: Signature) -> float:
        """Estimated share of the smaller set's shingles found in the larger one."""
        j = self.jaccard(other)
        smaller = min(self.size, other.size)
        if not smaller:
            return 0.0
        shared = j * (self.size + other.size) / (1.0 + j)
        return min(shared / smaller, 1.0)

    def copies(self, other: Signature) -> bool:
        """True when the two texts are copies of one report (see the module docstring)."""
        if min(self.size, other.size) < MIN_SHINGLES:
            return False
        j = self.jaccard(other)
        return j >= JACCARD_MIN or (j >= PARTIAL_JACCARD_MIN and self.containment(other) >= CONTAINMENT_MIN)


def origin_groups(signatures: dict[str, Signature], doc_ids: Sequence[str]) -> list[list[str]]:
    """``doc_ids`` partitioned into groups of copies (union of copy pairs), in first-seen order.

    Ids without a signature are groups of their own.
    """
    ids = list(dict.fromkeys(doc_ids))
    parent = {d: d for d in ids}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            sa, sb = signatures.get(a), signatures.get(b)
            if sa is not None and sb is not None and root(a) != root(b) and sa.copies(sb):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for d in ids:
        groups.setdefault(root(d), []).append(d)
    return list(groups.values())


class OriginIndex:
    """``origins.sqlite`` beside the index: doc id -> MinHash signature. Safe across threads."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / ORIGINS_NAME
        self._conns = ThreadConnections(
            self.path,
            "CREATE TABLE IF NOT EXISTS signatures (doc_id TEXT PRIMARY KEY, text_hash TEXT NOT NULL,"
            " size INTEGER NOT NULL, signature BLOB NOT NULL)",
        )

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def record(self, articles: Iterable[Article]) -> int:
        """Store the signature of each article whose text changed (or is new); returns how many."""
        articles = list(articles)
        if not articles:
            return 0
        known = self._hashes([a.id for a in articles])
        rows = []
        for a in articles:
            digest = hashlib.blake2b(a.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
            if known.get(a.id) == digest:
                continue
            sig = Signature.of(a.text)
            rows.append((a.id, digest, sig.size, sig.values.tobytes()))
        if rows:
            conn = self._conn()
            with contextlib.closing(conn.cursor()) as cur:
                cur.execute("BEGIN")
                cur.executemany("INSERT OR REPLACE INTO signatures VALUES (?, ?, ?, ?)", rows)
                cur.execute("COMMIT")
        return len(rows)

    def forget(self, doc_ids: list[str]) -> list[str]:
        """Drop the signatures of deleted documents; returns ``doc_ids``."""
        if doc_ids and self.path.exists():
            self._conn().executemany("DELETE FROM signatures WHERE doc_id = ?", [(d,) for d in doc_ids])
        return doc_ids

    def _hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        if not self.path.exists():
            return {}
        out: dict[str, str] = {}
        for i in range(0, len(doc_ids), 500):
            part = list(doc_ids[i : i + 500])
            marks = ",".join("?" * len(part))
            sql = f"SELECT doc_id, text_hash FROM signatures WHERE doc_id IN ({marks})"
            out.update(self._conn().execute(sql, part).fetchall())
        return out

    def signatures(self, doc_ids: Sequence[str]) -> dict[str, Signature]:
        """The stored signatures of those of ``doc_ids`` that have one."""
        if not doc_ids or not self.path.exists():
            return {}
        out: dict[str, Signature] = {}
        try:
            for i in range(0, len(doc_ids), 500):
                part = list(doc_ids[i : i + 500])
                marks = ",".join("?" * len(part))
                sql = f"SELECT doc_id, size, signature FROM signatures WHERE doc_id IN ({marks})"
                for doc_id, size, blob in self._conn().execute(sql, part):
                    out[doc_id] = Signature(np.frombuffer(blob, dtype=np.uint32), int(size))
        except sqlite3.DatabaseError as exc:
            # The file only speeds answers up: unreadable, every article is its own origin.
            log.warning("origin signatures %s are unreadable (%s)", self.path, exc)
            return {}
        return out

    def groups(self, doc_ids: Sequence[str]) -> list[list[str]]:
        """Which of ``doc_ids`` are copies of each other: groups in first-seen order."""
        return origin_groups(self.signatures(list(dict.fromkeys(doc_ids))), doc_ids)
