"""One SQLite connection per thread for the small sidecar files beside the index.

``annotations.sqlite`` (:mod:`qa.models.nlp`) and ``origins.sqlite``
(:mod:`qa.ingest.dedup`) open their file the same way: the folder made if
missing, autocommit (transactions explicit), WAL, the schema created on first
connect.  The record store (:mod:`qa.store.records`) has its own, stricter
settings (full sync, foreign keys).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path


class ThreadConnections:
    """This thread's connection to ``path``, opened on first use with ``schema`` applied."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self.schema = schema
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(self.schema)
            self._local.conn = conn
        return conn

    def current(self) -> sqlite3.Connection | None:
        """This thread's connection if it has one open (``None`` otherwise)."""
        return getattr(self._local, "conn", None)

    def drop(self) -> None:
        """Close and forget this thread's connection (the next :meth:`get` opens a new one)."""
        conn = self.current()
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            self._local.conn = None
