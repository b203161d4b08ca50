"""The intake queue's one way in: every message that a worker (the pipeline or a robot)
must take, whether SMTP intake spooled it, a route or a bridge of this node relayed it
here, or a moderator released it from the hold queue, is inserted here.

A message's bytes are stored once (db/spooled.py), however many items (one per
recipient) it is queued as."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from listfed.db import sequence, spooled
from listfed.db.plain import Db, connection

_INSERT = (
    "INSERT INTO queue (id, kind, list_id, rcpt, detail, mail_from, message_id, spooled_id, "
    "received, approved, origin, state, attempts, next_attempt, last_error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', 0, ?, '')"
)


@dataclass(frozen=True)
class NewItem:
    """One recipient's item of a message for the intake queue (its bytes go apart)."""

    kind: str  # an addresses.Kind value
    list_id: int | None
    rcpt: str  # the address it was accepted for
    received: float
    mail_from: str = ""
    message_id: str = ""
    detail: str = ""  # the token of -confirm+TOKEN, the VERP part of -bounces+X
    approved: bool = False  # released from the hold queue: past the posting policy
    origin: str = ""  # post.Origin's stored form: relayed here by a route or bridge
    not_before: float = 0.0  # taken no earlier than this (a bridge's direct copy waits)


def insert(db: Db, raw: bytes, items: Sequence[NewItem]) -> list[int]:
    """Queue the items of one message in the caller's transaction, its bytes stored
    once; their queue ids, in order. No items: nothing is stored."""
    return insert_plain(connection(db, flush=False), raw, items)


def insert_plain(conn: sqlite3.Connection, raw: bytes, items: Sequence[NewItem]) -> list[int]:
    """`insert` in a plain sqlite3 connection's transaction (intake's group commit)."""
    if not items:
        return []
    spooled_id = spooled.store_plain(conn, raw)
    return _insert_items(conn, spooled_id, items)


def insert_stored(db: Db, spooled_id: int, items: Sequence[NewItem]) -> list[int]:
    """Queue items of a message whose bytes are stored already (a held post's)."""
    return _insert_items(connection(db, flush=False), spooled_id, items)


def _insert_items(conn: sqlite3.Connection, spooled_id: int, items: Sequence[NewItem]) -> list[int]:
    first = sequence.reserve(conn, "queue", len(items))  # never an id given before
    ids = list(range(first, first + len(items)))
    conn.executemany(
        _INSERT,
        [
            (
                queue_id,
                item.kind,
                item.list_id,
                item.rcpt,
                item.detail,
                item.mail_from,
                item.message_id,
                spooled_id,
                item.received,
                item.approved,
                item.origin,
                item.not_before,
            )
            for queue_id, item in zip(ids, items, strict=True)
        ],
    )
    return ids


@dataclass(frozen=True)
class Item:
    """A queue item as its worker reads it (the `queue` table's row)."""

    id: int
    kind: str  # an addresses.Kind value
    list_id: int | None
    rcpt: str
    detail: str
    mail_from: str
    message_id: str
    spooled_id: int
    received: float
    approved: bool
    origin: str
    attempts: int


_DUE = (
    "SELECT id, kind, list_id, rcpt, detail, mail_from, message_id, spooled_id, received, "
    "approved, origin, attempts FROM queue WHERE state = 'new' AND kind IN ({kinds}) "
    "AND next_attempt <= ? ORDER BY id LIMIT ?"
)


def due(conn: sqlite3.Connection, kinds: Sequence[str], now: float, limit: int) -> list[Item]:
    """Up to `limit` items of these kinds due at `now`, oldest first."""
    query = _DUE.format(kinds=",".join("?" * len(kinds)))
    rows = conn.execute(query, (*kinds, now, limit)).fetchall()
    return [
        Item(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10], r[11])
        for r in rows
    ]


def done(conn: sqlite3.Connection, queue_id: int) -> None:
    """The item was handled: it leaves the queue (its bytes go with the last item)."""
    conn.execute("DELETE FROM queue WHERE id = ?", (queue_id,))


def failed(conn: sqlite3.Connection, queue_id: int, error: str, retry_at: float, bad: bool) -> None:
    """One more failed attempt: try again at `retry_at`, or set aside as "bad"."""
    conn.execute(
        "UPDATE queue SET attempts = attempts + 1, last_error = ?, next_attempt = ?, "
        "state = CASE WHEN ? THEN 'bad' ELSE state END WHERE id = ?",
        (error[:500], retry_at, bad, queue_id),
    )
