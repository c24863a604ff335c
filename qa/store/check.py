"""The consistency checker behind ``qa check``: the record store and the vector index agree.

Every vector maps to exactly one live chunk and back, no chunk belongs to a
missing document, and every chunk's span quotes its document exactly.  It
compares the store with the snapshot of the same generation, read in one
transaction: another handle may have written since this one last looked, which
is not an inconsistency.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from qa.store.records import Records
from qa.store.vectors import Snapshot

ATTEMPTS = 5


def check(records: Records, snapshot: Callable[[], Snapshot]) -> list[str]:
    """The problems found; ``snapshot()`` reloads and returns the latest snapshot."""
    conn = records.conn()
    for attempt in range(ATTEMPTS):
        snap = snapshot()
        conn.execute("BEGIN")
        if records.generation(conn) == snap.generation or attempt == ATTEMPTS - 1:
            break
        conn.execute("COMMIT")
    try:
        return problems(conn, snap)
    finally:
        conn.execute("COMMIT")


def problems(conn: sqlite3.Connection, snap: Snapshot) -> list[str]:
    """What disagrees between the store (as ``conn`` reads it) and ``snap``."""
    found: list[str] = []
    db_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
    faiss_ids = snap.vectors.live_ids().tolist()
    if len(faiss_ids) != len(set(faiss_ids)):
        found.append("duplicate ids in the FAISS index")
    if set(faiss_ids) != db_ids:
        found.append(f"FAISS ids and stored chunks differ: {len(set(faiss_ids) ^ db_ids)} ids")
    orphans = conn.execute(
        "SELECT COUNT(*) FROM chunks c LEFT JOIN documents d ON d.id=c.doc_id WHERE d.id IS NULL"
    ).fetchone()[0]
    if orphans:
        found.append(f"{orphans} chunks of missing documents")
    bad_spans = 0
    for start, end, text, document in conn.execute(
        "SELECT c.start, c.end, c.text, d.text FROM chunks c JOIN documents d ON d.id=c.doc_id"
    ):
        if document[start:end] != text:
            bad_spans += 1
    if bad_spans:
        found.append(f"{bad_spans} chunks whose span does not match their document")
    return found
