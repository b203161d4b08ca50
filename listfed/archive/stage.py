"""Storing an accepted post in the archive, and the thread a post belongs to."""

from __future__ import annotations

from listfed.archive import record, threads, zdict
from listfed.context import Context
from listfed.db.plain import Db, connection
from listfed.post import Post


def thread_of(db: Db, list_id: int, post: Post, now: float) -> str:
    """The thread the post joins (or would join, when it is not archived)."""
    msg = post.message
    return threads.predict(
        connection(db, flush=False),
        list_id,
        msg.message_id,
        msg.references,
        msg.in_reply_to,
        msg.subject,
        now,
    )


def store(ctx: Context, post: Post) -> None:
    """Archive the post unless the node or the list turned the archive off."""
    session, node = ctx.session, ctx.node
    if not (node.archive_enabled and post.lst.archive):
        post.thread_id = thread_of(session, post.lst.id, post, ctx.now())
        return
    conn = connection(session, flush=False)
    msg = post.message
    # The raw is archived as it arrived, a peer's X-Listfed-Signature included: the raw
    # is the truth (reindexing and audits read it, and it shows which peer vouched for a
    # relay), and rows archived before signatures were hidden have one anyway. So every
    # reader that shows or exports the raw (`show.load`, `export`) leaves it out instead.
    packing = zdict.for_packing(conn)
    item = record.prepare(post.raw, node.name, msg.message_id, post.received, msg.mime, packing)
    placed = record.add(conn, post.lst.id, item, post.received)
    if placed is None:  # archived already (the duplicate rule lets nothing through twice)
        placed = threads.thread_of(conn, post.lst.id, post.message.message_id) or ""
    post.thread_id = placed or post.message.message_id
