"""Rules that keep loops and duplicates out (SPEC §3.2). Each judges; none acts."""

from __future__ import annotations

from sqlalchemy import text

from listfed.context import Context
from listfed.db import relays
from listfed.mail import trace
from listfed.post import Decision, Post, Verdict

_ARCHIVED = text("SELECT 1 FROM archive WHERE list_id = :l AND message_id = :m")
_HELD = text("SELECT id FROM held WHERE list_id = :l AND message_id = :m")


def loop(ctx: Context, post: Post) -> Verdict | None:
    """A trace naming this node's list, or more hops than allowed, is a loop."""
    node = ctx.node
    if trace.names(post.message.traces, node.name, post.lst.address):
        where = f"{node.name} {post.lst.address}"
        return Verdict(Decision.DROP, f"loop: the trace already names {where}")
    if len(post.message.traces) > node.hop_limit:
        return Verdict(
            Decision.DROP, f"loop: {len(post.message.traces)} hops, limit {node.hop_limit}"
        )
    if post.lst.list_id in post.message.list_ids and post.message.auto_submitted:
        return Verdict(Decision.DROP, "loop: this list's own automatic mail came back")
    return None


def duplicate(ctx: Context, post: Post) -> Verdict | None:
    """The Message-ID is already archived, relayed or held on this list."""
    session = ctx.session
    mid, conn = post.message.message_id, session.connection()
    key = {"l": post.lst.id, "m": mid}
    if conn.execute(_ARCHIVED, key).first() is not None:
        return Verdict(Decision.DROP, f"duplicate: <{mid}> is already on this list")
    if relays.on_list(session, post.lst.id, mid):  # lists without an archive
        return Verdict(Decision.DROP, f"duplicate: <{mid}> has been relayed on this list")
    if not post.approved:
        held = conn.execute(_HELD, key).scalar()
        if held is not None:
            return Verdict(Decision.DROP, f"duplicate: <{mid}> is already held as {held}")
    return None
