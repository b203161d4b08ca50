"""Putting messages in the outbox: one `Outgoing` per message, one row per recipient.

The unique (outgoing, address) pair is what makes "each member gets each post once" hold
across crashes: fan-out happens in the same transaction that consumes the queue item.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import insert
from sqlmodel import Session, select

from listfed.db.models import Member, OutboxEntry, Outgoing
from listfed.listinfo import DeliveryMode
from listfed.post import NodeSettings, Post


def enqueue(
    session: Session,
    data: bytes,
    envelope_from: str,
    recipients: Iterable[str],
    list_id: int | None,
    kind: str = "post",
    message_id: str = "",
) -> int:
    """Store a message for delivery to each recipient once; returns the outgoing id."""
    now = time.time()
    outgoing = Outgoing(
        list_id=list_id,
        kind=kind,
        message_id=message_id,
        envelope_from=envelope_from,
        data=data,
        created=now,
    )
    session.add(outgoing)
    session.flush()
    rows = [
        {
            "outgoing_id": outgoing.id,
            "address": a,
            "state": "pending",
            "attempts": 0,
            "next_attempt": now,
            "last_error": "",
        }
        for a in dict.fromkeys(recipients)
    ]
    if rows:
        session.connection().execute(insert(OutboxEntry), rows)
    return outgoing.id or 0


def regular_recipients(session: Session, list_id: int) -> list[str]:
    query = select(Member.display_address).where(
        Member.list_id == list_id,
        Member.delivery == DeliveryMode.REGULAR.value,
        Member.delivery_disabled == False,  # noqa: E712  (SQL, not Python truth)
    )
    return list(session.exec(query))


def fan_out(session: Session, node: NodeSettings, post: Post) -> None:
    """Queue the decorated post for every regular member whose delivery is enabled."""
    enqueue(
        session,
        post.outgoing_data,
        post.lst.bounces_address,
        regular_recipients(session, post.lst.id),
        post.lst.id,
        "post",
        post.message.message_id,
    )
