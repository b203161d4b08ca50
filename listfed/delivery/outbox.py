"""Putting messages in the outbox: one `Outgoing` per message, one row per recipient.

The unique (outgoing, address) pair is what makes "each member gets each post once" hold
across crashes: fan-out happens in the same transaction that consumes the queue item.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from sqlmodel import Session

from listfed.context import Context
from listfed.db.engine import sqlite_of
from listfed.listinfo import DeliveryMode
from listfed.post import Post


def enqueue(
    session: Session,
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
    conn = sqlite_of(session)  # plain statements: every accepted post comes here
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


# The members `recipients` names, as `enqueue` stores them (in member order, each once),
# read and written by SQLite alone: no Python object per member, however big the list.
_FAN_OUT = (
    "INSERT OR IGNORE INTO outbox (outgoing_id, address, state, attempts, next_attempt, "
    "last_error) SELECT ?, display_address, 'pending', 0, ?, '' FROM member "
    "WHERE list_id = ? AND delivery = ? AND NOT delivery_disabled ORDER BY id"
)


def recipients(
    session: Session, list_id: int, mode: DeliveryMode = DeliveryMode.REGULAR
) -> list[str]:
    """The members with delivery `mode` whose delivery bounces have not disabled."""
    rows = sqlite_of(session).execute(
        "SELECT display_address FROM member WHERE list_id = ? AND delivery = ? "
        "AND NOT delivery_disabled ORDER BY id",
        (list_id, mode.value),
    )
    return [r[0] for r in rows]


def enqueue_members(
    session: Session,
    data: bytes,
    envelope_from: str,
    list_id: int,
    mode: DeliveryMode,
    kind: str,
    message_id: str,
    *,
    now: float,
) -> int:
    """`enqueue` to `recipients(session, list_id, mode)`, in one statement; the outgoing id."""
    conn = sqlite_of(session)
    outgoing_id = _outgoing(conn, data, envelope_from, list_id, kind, message_id, now)
    conn.execute(_FAN_OUT, (outgoing_id, now, list_id, mode.value))
    return outgoing_id


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
