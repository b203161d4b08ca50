"""Putting messages in the outbox: one `Outgoing` per message, one row per recipient.

The unique (outgoing, address) pair is what makes "each member gets each post once" hold
across crashes: fan-out happens in the same transaction that consumes the queue item.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from listfed.db.plain import Db, connection
from listfed.listinfo import DeliveryMode

if TYPE_CHECKING:  # the commands that queue a notice (`held reject`) load neither
    from listfed.context import Context
    from listfed.post import Post


def enqueue(
    db: Db,
    data: bytes,
    envelope_from: str,
    recipients: Iterable[str],
    list_id: int | None,
    kind: str = "post",
    message_id: str = "",
    *,
    now: float,
) -> int:
    """Store a message for delivery to each recipient once; returns the outgoing id."""
    conn = connection(db, flush=False)  # plain statements: every accepted post comes here
    outgoing_id = _outgoing(conn, data, envelope_from, list_id, kind, message_id, now)
    rows = [(outgoing_id, a, now) for a in dict.fromkeys(recipients)]
    if rows:  # executemany: a thousand rows cost a few milliseconds
        conn.executemany(
            "INSERT INTO outbox (outgoing_id, address, state, attempts, next_attempt, "
            "last_error) VALUES (?, ?, 'pending', 0, ?, '')",
            rows,
        )
    return outgoing_id


def _outgoing(
    conn: sqlite3.Connection,
    data: bytes,
    envelope_from: str,
    list_id: int | None,
    kind: str,
    message_id: str,
    now: float,
) -> int:
    outgoing_id = conn.execute(
        "INSERT INTO outgoing (list_id, kind, message_id, envelope_from, data, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (list_id, kind, message_id, envelope_from, data, now),
    ).lastrowid
    assert outgoing_id is not None
    return int(outgoing_id)


# The members with a delivery mode whose delivery bounces have not disabled, stored as
# `enqueue` stores recipients (in member order, each address once), read and written by
# SQLite alone: no Python object per member, however big the list.
_FAN_OUT = (
    "INSERT OR IGNORE INTO outbox (outgoing_id, address, state, attempts, next_attempt, "
    "last_error) SELECT ?, display_address, 'pending', 0, ?, '' FROM member "
    "WHERE list_id = ? AND delivery = ? AND NOT delivery_disabled ORDER BY id"
)


def enqueue_members(
    db: Db,
    data: bytes,
    envelope_from: str,
    list_id: int,
    mode: DeliveryMode,
    kind: str,
    message_id: str,
    *,
    now: float,
) -> tuple[int, int]:
    """`enqueue` to the members of `list_id` with delivery `mode` whose delivery is
    enabled, in one statement; the outgoing id and how many recipients."""
    conn = connection(db, flush=False)
    outgoing_id = _outgoing(conn, data, envelope_from, list_id, kind, message_id, now)
    queued = conn.execute(_FAN_OUT, (outgoing_id, now, list_id, mode.value)).rowcount
    return outgoing_id, queued


def fan_out(ctx: Context, post: Post) -> None:
    """Queue the decorated post for every regular member whose delivery is enabled."""
    enqueue_members(
        ctx.session,
        post.outgoing_data,
        post.lst.bounces_address,
        post.lst.id,
        DeliveryMode.REGULAR,
        "post",
        post.message.message_id,
        now=ctx.now(),
    )
