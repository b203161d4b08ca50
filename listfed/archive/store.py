"""Storing an accepted post in the archive table."""

from __future__ import annotations

from sqlmodel import Session, col, select

from listfed.db.models import ArchivedMessage
from listfed.post import NodeSettings, Post


def thread_of(session: Session, list_id: int, post: Post) -> str:
    """The thread a post joins: that of the nearest archived parent, else its own id.

    A first cut: full JWZ threading with placeholders comes with the archive issue and
    can be rebuilt from the raw messages.
    """
    parents = [post.message.in_reply_to, *reversed(post.message.references)]
    parents = [p for p in parents if p]
    if parents:
        rows = session.exec(
            select(ArchivedMessage.message_id, ArchivedMessage.thread_id).where(
                ArchivedMessage.list_id == list_id, col(ArchivedMessage.message_id).in_(parents)
            )
        ).all()
        found = dict(rows)
        for parent in parents:
            if parent in found:
                return found[parent]
    return post.message.message_id


def store(session: Session, node: NodeSettings, post: Post) -> None:
    """Archive the post unless the node or the list turned the archive off."""
    post.thread_id = thread_of(session, post.lst.id, post)
    if not (node.archive_enabled and post.lst.archive):
        return
    msg = post.message
    session.add(
        ArchivedMessage(
            list_id=post.lst.id,
            message_id=msg.message_id,
            thread_id=post.thread_id,
            sender=msg.sender,
            sender_name=msg.sender_name,
            date=msg.date or post.received,
            subject=msg.subject,
            body_text=msg.body_text,
            raw=post.raw,
            received=post.received,
        )
    )
