"""Held posts that nobody decided on are dropped when their time is up (the list's
`hold_expiry`), and a member whose post it was is told. Non-members are not told, for
the reason hold.py gives. Run by the housekeeper."""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from listfed.context import NodeSettings
from listfed.db import lists, members
from listfed.db.models import Held
from listfed.moderation.release import release
from listfed.notices import replies

log = logging.getLogger("listfed.moderation")


def expire(session: Session, node: NodeSettings, now: float) -> int:
    """Drop every held post past its expiry; how many."""
    query = select(Held).where(col(Held.expires) > 0, col(Held.expires) <= now)
    rows = list(session.exec(query.order_by(col(Held.id))))
    for row in rows:
        lst = lists.by_id(session, row.list_id)
        days = max(1, round((row.expires - row.received) / 86400))
        if row.mail_from and row.sender and members.find(session, lst.id, row.sender):
            body = (
                f"Your message to {lst.address} waited {days} day(s) for a moderator and "
                f"nobody decided on it, so it has been dropped.\n\nSubject: {row.subject}\n"
            )
            replies.send(
                session,
                lst,
                row.sender,
                f"Not posted: {row.subject}"[:200],
                body,
                now,
                node,
                sender=lst.sub_address("owner"),
                in_reply_to=row.message_id,
            )
        log.info(
            "<%s> %s: held %s expired after %d day(s)", row.message_id, lst.address, row.id, days
        )
        assert row.id is not None
        release(session, row.id, now)
    return len(rows)
