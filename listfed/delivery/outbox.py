"""Putting messages in the outbox: one `Outgoing` per message, one row per recipient.

The unique (outgoing, address) pair is what makes "each member gets each post once" hold
across crashes: fan-out happens in the same transaction that consumes the queue item.
"""

from __future__ import annotations

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
    outgoing_id = conn.execute(
        "INSERT INTO outgoing (list_id, kind, message_id, envelope_from, data, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (list_id, kind, message_id, envelope_from, data, now),
    ).lastrowid
    assert outgoing_id is not None
    rows = [(outgoing_id, a, now) for a in dict.fromkeys(recipients)]
    if rows:  # executemany: a thousand rows cost a few milliseconds
        conn.executemany(
            "INSERT INTO outbox (outgoing_id, address, state, attempts, next_attempt, "
            "last_error) VALUES (?, ?, 'pending', 0, ?, '')",
            rows,
        )
    return int(outgoing_id)


def recipients(db: Db, list_id: int, mode: DeliveryMode = DeliveryMode.REGULAR) -> list[str]:
    """The members with delivery `mode` whose delivery bounces have not disabled."""
    rows = connection(db, flush=False).execute(
        "SELECT display_address FROM member WHERE list_id = ? AND delivery = ? "
        "AND NOT delivery_disabled ORDER BY id",
        (list_id, mode.value),
    )
    return [r[0] for r in rows]


def fan_out(ctx: Context, post: Post) -> None:
    """Queue the decorated post for every regular member whose delivery is enabled."""
    session = ctx.session
    enqueue(
        session,
        post.outgoing_data,
        post.lst.bounces_address,
        recipients(session, post.lst.id),
        post.lst.id,
        "post",
        post.message.message_id,
        now=ctx.now(),
    )
