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
    message_id: str = "",
) -> None:
    """One row of the relay ledger about this post (under `message_id`, when given)."""
    relays.record(
        session,
        relays.Relay(
            list_id=post.lst.id,
            message_id=message_id or post.message.message_id,
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
    """An accepted trusted relay shares its thread with the list it came from. A wrapped
    one is recorded under the Message-ID of the post inside as well, so that the post
    is known by it when it comes again (unwrapped by a route, or as a direct copy)."""
    if not post.relay_from:
        return
    record(session, post, post.relay_from, "in", "received", now)
    wrapper = f"received wrapped in <{post.message.message_id}>"
    for mid in post.message.message_ids[1:]:
        record(session, post, post.relay_from, "in", wrapper, now, message_id=mid)


def relay_outcome(session: Session, outgoing_id: int, outcome: str) -> None:
    """The delivery worker's hook: where a relay went ("sent", "failed: …", "retrying: …")."""
    relays.set_outcome(session, outgoing_id, outcome)
