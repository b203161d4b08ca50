"""Rules that keep loops and duplicates out (SPEC §3.2). Each judges; none acts.

The pipeline calls them with its pass's `Context`; `routes test` (federation/trial.py)
calls what they ask of the node and of the database directly, on a plain connection."""

from __future__ import annotations

from listfed.context import Context, NodeSettings
from listfed.db import posts
from listfed.db.plain import Db
from listfed.mail import trace
from listfed.post import Decision, Post, Verdict


def loop(ctx: Context, post: Post) -> Verdict | None:
    return loop_at(ctx.node, post)


def loop_at(node: NodeSettings, post: Post) -> Verdict | None:
    """A trace naming this node's list, or more hops than allowed, is a loop. A wrapped
    post's hops are those of the post inside and of the wrapper together."""
    traces = post.message.all_traces
    if trace.names(traces, node.name, post.lst.address):
        where = f"{node.name} {post.lst.address}"
        return Verdict(Decision.DROP, f"loop: the trace already names {where}")
    if len(traces) > node.hop_limit:
        return Verdict(Decision.DROP, f"loop: {len(traces)} hops, limit {node.hop_limit}")
    if post.lst.list_id in post.message.list_ids and post.message.auto_submitted:
        return Verdict(Decision.DROP, "loop: this list's own automatic mail came back")
    return None


def duplicate(ctx: Context, post: Post) -> Verdict | None:
    return duplicate_in(ctx.session, post)


def duplicate_in(db: Db, post: Post) -> Verdict | None:
    """The Message-ID (or the wrapped post's) is already archived, relayed or held on
    this list."""
    for mid in post.message.message_ids:
        found = posts.where(db, post.lst.id, mid, held=not post.approved)
        if found:
            return Verdict(Decision.DROP, f"duplicate: <{mid}> {found}")
    return None
