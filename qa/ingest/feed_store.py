"""What the feed reader remembers: subscriptions and the items already ingested (``feeds.sqlite``).

:class:`FeedStore` keeps, beside the index, each feed's conditional-request
validators (ETag, Last-Modified) and last outcome, and each item's link and
content hash, so :mod:`qa.ingest.feeds` never fetches or embeds an item twice.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from qa.errors import BadRequest, NotFound

STORE_NAME = "feeds.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    added_at REAL NOT NULL,
    polled_at REAL,
    status TEXT NOT NULL DEFAULT 'new',
    error TEXT
);
CREATE TABLE IF NOT EXISTS items (
    link TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS items_hash ON items(content_hash);
"""


@dataclass
class Feed:
    """A subscription: its URL, the source name its articles get, and the last poll's outcome."""

    url: str
    source: str = ""
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    added_at: float = 0.0
    polled_at: float | None = None
    status: str = "new"
    error: str | None = None


@dataclass
class FeedReport:
    """What one poll of one feed did.  ``error`` is set when the feed itself failed."""

    url: str
    status: str = "ok"  # ok | not_modified | error
    error: str | None = None
    items: int = 0  # items in the feed document
    added: list[str] = field(default_factory=list)  # doc ids ingested
    seen: int = 0  # items whose link was ingested before: not fetched
    duplicates: int = 0  # new links whose text was already ingested
    problems: list[tuple[str, str]] = field(default_factory=list)  # (item URL, reason)
    chunks_embedded: int = 0
    warning: str | None = None  # a malformed feed that still yielded items

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems

    def summary(self) -> str:
        if self.error:
            return f"{self.url}: error: {self.error}"
        if self.status == "not_modified":
            return f"{self.url}: not modified"
        line = (
            f"{self.url}: {len(self.added)} new ({self.chunks_embedded} chunks embedded), {self.seen} seen, "
            f"{self.duplicates} duplicate"
        )
        line += f", {len(self.problems)} failed" if self.problems else ""
        return line + (f" ({self.warning})" if self.warning else "")


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()


def check_url(url: str) -> str:
    """``url`` stripped, or ``BadRequest`` unless it is an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise BadRequest(f"not an http(s) URL: {url[:200]!r}")
    return url


class FeedStore:
    """The subscriptions and the items already ingested, in ``<index_dir>/feeds.sqlite``."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / STORE_NAME

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.executescript(_SCHEMA)
            with conn:
                yield conn

    def add(self, url: str, source: str = "") -> tuple[Feed, bool]:
        """Subscribe to ``url``; ``(feed, created)`` (an existing feed gets the new source name, if any)."""
        url = check_url(url)
        with self._conn() as conn:
            created = (
                conn.execute(
                    "INSERT OR IGNORE INTO feeds(url, source, added_at) VALUES (?,?,?)",
                    (url, source, time.time()),
                ).rowcount
                == 1
            )
            if not created and source:
                conn.execute("UPDATE feeds SET source=? WHERE url=?", (source, url))
        return self.get(url), created

    def remove(self, url: str) -> None:
        with self._conn() as conn:
            if conn.execute("DELETE FROM feeds WHERE url=?", (url.strip(),)).rowcount == 0:
                raise NotFound(f"no feed {url!r}: `qa feeds list` shows the subscriptions")

    def get(self, url: str) -> Feed:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url=?", (url,)).fetchone()
        if row is None:
            raise NotFound(f"no feed {url!r}: add it with `qa feeds add URL`")
        return Feed(*row)

    def list(self) -> list[Feed]:
        if not self.path.exists():
            return []
        with self._conn() as conn:
            return [
                Feed(*row) for row in conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY added_at")
            ]

    def seen(self, links: Sequence[str]) -> set[str]:
        """Those of ``links`` already recorded."""
        with self._conn() as conn:
            return {
                link
                for link in links
                if conn.execute("SELECT 1 FROM items WHERE link=?", (link,)).fetchone() is not None
            }

    def doc_for_hash(self, digest: str) -> str | None:
        with self._conn() as conn:
            row = conn.execute("SELECT doc_id FROM items WHERE content_hash=? LIMIT 1", (digest,)).fetchone()
        return row[0] if row else None

    def record_items(self, feed_url: str, items: Sequence[tuple[str, str, str]]) -> None:
        """Record ``(link, doc_id, content_hash)`` items as ingested."""
        now = time.time()
        with self._conn() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO items(link, feed_url, doc_id, content_hash, added_at) VALUES (?,?,?,?,?)",
                [(link, feed_url, doc_id, digest, now) for link, doc_id, digest in items],
            )

    def record_poll(
        self, feed: Feed, report: FeedReport, etag: str | None, last_modified: str | None
    ) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE feeds SET title=?, etag=?, last_modified=?, polled_at=?, status=?, error=? WHERE url=?",
                (feed.title, etag, last_modified, time.time(), report.status, report.error, feed.url),
            )


_FEED_COLUMNS = "url, source, title, etag, last_modified, added_at, polled_at, status, error"
