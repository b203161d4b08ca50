"""Removing posts from a list's archive (`archive delete`, `members forget --posts`).

The row goes, and with it the search index entry (the table's trigger) and the text;
the thread keeps the post's place as a placeholder, so replies stay where they were,
and `archive_removed` records when and why: the web face answers 410 Gone for it, the
thread shows "post removed", and the same message is never archived again (a relay
from a peer, a re-import of an old mbox).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

log = logging.getLogger("listfed.archive")


@dataclass(frozen=True)
class Removal:
    message_id: str
    removed: float
    reason: str


def remove(
    conn: sqlite3.Connection, list_id: int, message_id: str, reason: str, now: float
) -> bool:
    """Remove one archived post, in the caller's transaction; False if it was not there."""
    row = conn.execute(
        "SELECT id, thread_id FROM archive WHERE list_id = ? AND message_id = ?",
        (list_id, message_id),
    ).fetchone()
    if row is None:
        return False
    conn.execute("DELETE FROM archive WHERE id = ?", (row[0],))
    conn.execute(
        "UPDATE thread_node SET archived = 0 WHERE list_id = ? AND message_id = ?",
        (list_id, message_id),
    )
    conn.execute(
        "INSERT OR REPLACE INTO archive_removed (list_id, message_id, thread_id, removed, "
        "reason) VALUES (?, ?, ?, ?, ?)",
        (list_id, message_id, row[1], now, reason),
    )
    log.info("list %d: <%s> removed from the archive (%s)", list_id, message_id, reason)
    return True


def by_sender(conn: sqlite3.Connection, address: str) -> list[tuple[int, str]]:
    """(list id, Message-ID) of every archived post from `address` (any case)."""
    rows = conn.execute(
        "SELECT list_id, message_id FROM archive WHERE lower(sender) = ? ORDER BY id",
        (address.strip().lower(),),
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def removed(conn: sqlite3.Connection, list_id: int, message_ids: list[str]) -> dict[str, Removal]:
    """Which of these Message-IDs were removed from the list's archive, and when."""
    found: dict[str, Removal] = {}
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))  # only the marks are spliced in
        rows = conn.execute(
            "SELECT message_id, removed, reason FROM archive_removed "  # noqa: S608
            f"WHERE list_id = ? AND message_id IN ({marks})",
            (list_id, *chunk),
        )
        for mid, when, why in rows:
            found[str(mid)] = Removal(str(mid), float(when), str(why))
    return found
