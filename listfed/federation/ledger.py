"""This node's side of the relay ledger (db/relays.py): what federation writes about a
post it relays or receives, and the delivery worker's hook for a relay's outcome."""

from __future__ import annotations

from sqlmodel import Session

from listfed.db import relays
from listfed.post import Post


def record(
    session: Session,
    post: Post,
    target: str,
    direction: str,
    outcome: str,
    now: float,
    route: str = "",
    outgoing_id: int | None = None,
) -> None:
    """One row of the relay ledger about this post."""
    relays.record(
        session,
        relays.Relay(
            list_id=post.lst.id,
            message_id=post.message.message_id,
            thread_id=post.thread_id,
            target=target,
            direction=direction,
            outcome=outcome,
            created=now,
            route=route,
            outgoing_id=outgoing_id,
        ),
    )


def record_arrival(session: Session, post: Post, now: float) -> None:
    """An accepted trusted relay shares its thread with the list it came from."""
    if post.relay_from:
        record(session, post, post.relay_from, "in", "received", now)


def relay_outcome(session: Session, outgoing_id: int, outcome: str) -> None:
    """The delivery worker's hook: where a relay went ("sent", "failed: …", "retrying: …")."""
    relays.set_outcome(session, outgoing_id, outcome)
