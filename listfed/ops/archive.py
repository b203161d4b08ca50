"""Archive operations for the command line (and next the web face): find a list or a
message in the archive, remove a post, rebuild the index. Plain sqlite3, as `archive
search` must not load the SQLAlchemy layer (see archive/opendb.py)."""

import sqlite3
import time
from collections.abc import Callable
from typing import NamedTuple  # not a dataclass: see archive/querylex.py

from listfed.errors import NotFound, UsageError


class Located(NamedTuple):
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


def _holders(conn: sqlite3.Connection, mid: str, lst: str | None) -> list[tuple[int, str, str]]:
    """(list id, thread id, list address) of each list whose archive has the message
    (only `lst`'s, if given); NotFound, saying whether it was removed, when none has."""
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
        where = f" on {lst}" if lst else ""
        raise NotFound(f"no archived message <{mid}>{where}{_gone(conn, mid)}")
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def locate(conn: sqlite3.Connection, message_id: str, lst: str | None) -> Located:
    """The list and thread of an archived message; the first list when it is on several."""
    rows = _holders(conn, message_id.strip().strip("<>").strip(), lst)
    first = rows[0]
    return Located(first[0], first[1], first[2], tuple(r[2] for r in rows[1:]))


def _gone(conn: sqlite3.Connection, mid: str) -> str:
    """Where and when the message was removed, if it was: for the NotFound's message."""
    rows = conn.execute(
        "SELECT m.local || '@' || m.domain, r.removed, r.reason FROM archive_removed r "
        "JOIN mlist m ON m.id = r.list_id WHERE r.message_id = ? ORDER BY r.list_id",
        (mid,),
    ).fetchall()
    said = [
        f"removed from {lst} on {time.strftime('%Y-%m-%d', time.gmtime(when))} ({why})"
        for lst, when, why in rows
    ]
    return f": {'; '.join(said)}" if said else ""


def delete(conn: sqlite3.Connection, message_id: str, lst: str | None, now: float) -> list[str]:
    """Remove a post from the archive of `lst`, or of every list that has it (a relay
    keeps its Message-ID); the lists it was removed from. NotFound if none has it."""
    from listfed.archive import removal

    mid = message_id.strip().strip("<>").strip()
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = _holders(conn, mid, lst)
        for found_id, _thread, _address in rows:
            removal.remove(conn, found_id, mid, "archive delete", now)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return [address for _id, _thread, address in rows]


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
