"""Intake queue ids that are never handed out twice.

SQLite gives a new row the largest rowid plus one, so once the last row is gone (an
emptied queue) the next one gets the same id again: every message was "queued as 1"
and logged as q1. The last id given is kept in `meta` instead, so an id in a `250`
reply or a log line names one message over the node's life. (`outgoing` needs none of
this: its ids are AUTOINCREMENT since schema v2. The queue table would need a rebuild
for that, which a row in `meta` spares.)
"""

from __future__ import annotations

import sqlite3

TABLES = frozenset({"queue"})


def reserve(db: sqlite3.Connection | sqlite3.Cursor, table: str, count: int = 1) -> int:
    """The first of `count` new ids for `table`, in the caller's write transaction."""
    if table not in TABLES:
        raise ValueError(f"no id sequence for {table}")
    key = f"{table}_last_id"
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    given = int(row[0]) if row else 0
    (largest,) = db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()  # noqa: S608
    first = max(given, int(largest)) + 1
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(first + count - 1))
    )
    return first
