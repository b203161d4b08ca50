"""Collecting posts for a list's digest members, and sending the digest when it is due:
when the collected posts pass the list's `digest_size`, or its `digest_period` has passed
since the first of them (SPEC §9). `listfed digests send` sends what is pending now.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session

from listfed.context import Context
from listfed.db import lists
from listfed.db.engine import sqlite_of
from listfed.db.models import DigestItem
from listfed.delivery import outbox
from listfed.digests.format import mime_digest, plain_digest
from listfed.listinfo import DeliveryMode, DigestFormat, ListInfo
from listfed.post import Post

log = logging.getLogger("listfed.digests")


def _has_digest_members(session: Session, list_id: int) -> bool:
    row = sqlite_of(session).execute(  # plain: every accepted post asks
        "SELECT 1 FROM member WHERE list_id = ? AND delivery = ? AND NOT delivery_disabled LIMIT 1",
        (list_id, DeliveryMode.DIGEST.value),
    )
    return row.fetchone() is not None


def _pending_size(session: Session, list_id: int) -> int:
    row = session.connection().execute(
        text("SELECT COALESCE(SUM(size), 0) FROM digest_item WHERE list_id = :l"), {"l": list_id}
    )
    return int(row.scalar_one())


def collect(ctx: Context, post: Post) -> None:
    """Pipeline stage: keep the accepted post for the digest; send it if it is big enough."""
    session = ctx.session
    if not _has_digest_members(session, post.lst.id):
        return
    session.add(
        DigestItem(
            list_id=post.lst.id,
            message_id=post.message.message_id,
            raw=post.raw,
            size=len(post.raw),
            created=post.received,
        )
    )
    session.flush()
    if _pending_size(session, post.lst.id) >= post.lst.digest_size:
        send(session, post.lst, post.received)


def _build(lst: ListInfo, issue: int, posts: list[bytes], now: float) -> bytes:
    build = plain_digest if lst.digest_format is DigestFormat.PLAIN else mime_digest
    return build(lst, issue, posts, datetime.fromtimestamp(now, UTC))


def send(session: Session, lst: ListInfo, now: float) -> int:
    """Send `lst`'s pending digest to its digest members; how many posts it held."""
    conn = session.connection()
    rows = conn.execute(
        text("SELECT id, raw FROM digest_item WHERE list_id = :l ORDER BY id"), {"l": lst.id}
    ).all()
    if not rows:
        return 0
    conn.execute(
        text("DELETE FROM digest_item WHERE list_id = :l AND id <= :last"),
        {"l": lst.id, "last": rows[-1][0]},
    )
    if not _has_digest_members(session, lst.id):
        log.info("%s: %d posts for the digest, but no digest members now", lst.address, len(rows))
        return len(rows)
    issue = int(
        conn.execute(
            text("UPDATE mlist SET digest_issue = digest_issue + 1 WHERE id = :l "
                 "RETURNING digest_issue"),
            {"l": lst.id},
        ).scalar_one()
    )  # fmt: skip
    data = _build(lst, issue, [bytes(r[1]) for r in rows], now)
    _, to = outbox.enqueue_members(
        session, data, lst.bounces_address, lst.id, DeliveryMode.DIGEST, "digest", "", now=now
    )
    log.info("%s: digest issue %d, %d posts, to %d members", lst.address, issue, len(rows), to)
    return len(rows)


def send_to_leaver(session: Session, lst: ListInfo, address: str, now: float) -> int:
    """A member leaving digest delivery gets what is pending now, in a digest of their own
    (the others' digest still goes out as due); how many posts it held."""
    rows = (
        session.connection()
        .execute(text("SELECT raw FROM digest_item WHERE list_id = :l ORDER BY id"), {"l": lst.id})
        .all()
    )
    if not rows:
        return 0
    row = session.connection().execute(
        text("SELECT digest_issue FROM mlist WHERE id = :l"), {"l": lst.id}
    )
    issue = int(row.scalar_one()) + 1  # the issue the others will get these posts in
    data = _build(lst, issue, [bytes(r[0]) for r in rows], now)
    outbox.enqueue(session, data, lst.bounces_address, [address], lst.id, "digest", now=now)
    return len(rows)


def due(session: Session, now: float) -> tuple[list[ListInfo], float | None]:
    """The lists whose digest period has run out, and when the next one will."""
    rows = (
        session.connection()
        .execute(text("SELECT list_id, MIN(created) FROM digest_item GROUP BY list_id"))
        .all()
    )
    ready, later = [], None
    for list_id, first in rows:
        lst = lists.by_id(session, int(list_id))
        at = float(first) + lst.digest_period.seconds
        if at <= now:
            ready.append(lst)
        else:
            later = at if later is None else min(later, at)
    return ready, later


def send_pending(session: Session, list_address: str | None, now: float) -> dict[str, int]:
    """`listfed digests send`: every pending digest (of one list, or all) now."""
    if list_address is not None:
        chosen = [lists.get(session, list_address)]
    else:
        chosen = [info for info, _count in lists.all_lists(session)]
    return {lst.address: send(session, lst, now) for lst in chosen}
