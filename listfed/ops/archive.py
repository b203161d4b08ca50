"""Archive operations for the command line (and next the web face): find a list or a
message in the archive, rebuild the index. Plain sqlite3, as `archive search` must not
load the SQLAlchemy layer (see archive/opendb.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from listfed.errors import NotFound, UsageError


@dataclass(frozen=True)
class Located:
    """Where an archived message is: its list and thread, and the other lists it is on
    (relays keep Message-IDs)."""

    list_id: int
    thread_id: str
    list_address: str
    also_on: tuple[str, ...]


def list_id(conn: sqlite3.Connection, address: str) -> int:
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local or not domain:
        raise UsageError(f"{address!r} is not a list address (LIST@DOMAIN)")
    row = conn.execute(
        "SELECT id FROM mlist WHERE local = ? AND domain = ?", (local, domain)
    ).fetchone()
    if row is None:
        raise NotFound(f"no list {local}@{domain}")
    return int(row[0])


def locate(conn: sqlite3.Connection, message_id: str, lst: str | None) -> Located:
    """The list and thread of an archived message; the first list when it is on several."""
    mid = message_id.strip().strip("<>").strip()
    sql = (
        "SELECT a.list_id, a.thread_id, m.local || '@' || m.domain FROM archive a "
        "JOIN mlist m ON m.id = a.list_id WHERE a.message_id = ?"
    )
    params: tuple[object, ...] = (mid,)
    if lst:
        sql += " AND a.list_id = ?"
        params = (mid, list_id(conn, lst))
    rows = conn.execute(sql + " ORDER BY a.list_id", params).fetchall()
    if not rows:
        raise NotFound(f"no archived message <{mid}>" + (f" on {lst}" if lst else ""))
    first = rows[0]
    return Located(int(first[0]), str(first[1]), str(first[2]), tuple(r[2] for r in rows[1:]))


def reindex(conn: sqlite3.Connection, progress: Callable[[int], None]) -> int:
    """Rebuild the index and threads in one transaction (it holds the write lock)."""
    from listfed.archive import reindex as rebuild  # not on `archive search`'s quick path

    conn.execute("BEGIN IMMEDIATE")
    try:
        count = rebuild.everything(conn, progress)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return count
