"""Collecting posts for a list's digest members, and sending the digest when it is due:
when the collected posts pass the list's `digest_size`, or its `digest_period` has passed
since the first of them (SPEC §9). `listfed digests send` sends what is pending now.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from listfed.db import listrows
from listfed.db.plain import Db, connection
from listfed.delivery import outbox
from listfed.digests.format import mime_digest, plain_digest
from listfed.listinfo import DeliveryMode, DigestFormat, ListInfo

if TYPE_CHECKING:  # `digests send` and `members set` load neither
    from listfed.context import Context
    from listfed.post import Post

log = logging.getLogger("listfed.digests")


# every accepted post asks: an entry of ix_member_list_delivery (schema v14), not a walk
# of the list's members
_DIGEST_MEMBER = (
    "SELECT 1 FROM member WHERE list_id = ? AND delivery = ? AND NOT delivery_disabled LIMIT 1"
)


def _has_digest_members(db: Db, list_id: int) -> bool:
    row = connection(db, flush=False).execute(_DIGEST_MEMBER, (list_id, DeliveryMode.DIGEST.value))
    return row.fetchone() is not None


def _pending_size(conn: sqlite3.Connection, list_id: int) -> int:
    row = conn.execute("SELECT SUM(size) FROM digest_item WHERE list_id = ?", (list_id,))
    return int(row.fetchone()[0] or 0)


def collect(ctx: Context, post: Post) -> None:
    """Pipeline stage: keep the accepted post for the digest; send it if it is big enough."""
    session = ctx.session
    if not _has_digest_members(session, post.lst.id):
        return
    conn = connection(session)
    conn.execute(
        "INSERT INTO digest_item (list_id, message_id, raw, size, created) VALUES (?, ?, ?, ?, ?)",
        (post.lst.id, post.message.message_id, post.raw, len(post.raw), post.received),
    )
    if _pending_size(conn, post.lst.id) >= post.lst.digest_size:
        send(conn, post.lst, post.received)


def _build(lst: ListInfo, issue: int, posts: list[bytes], now: float) -> bytes:
    build = plain_digest if lst.digest_format is DigestFormat.PLAIN else mime_digest
    return build(lst, issue, posts, datetime.fromtimestamp(now, UTC))


def send(db: Db, lst: ListInfo, now: float) -> int:
    """Send `lst`'s pending digest to its digest members; how many posts it held."""
    conn = connection(db)
    rows = conn.execute(
        "SELECT id, raw FROM digest_item WHERE list_id = ? ORDER BY id", (lst.id,)
    ).fetchall()
    if not rows:
        return 0
    conn.execute("DELETE FROM digest_item WHERE list_id = ? AND id <= ?", (lst.id, rows[-1][0]))
    if not _has_digest_members(conn, lst.id):
        log.info("%s: %d posts for the digest, but no digest members now", lst.address, len(rows))
        return len(rows)
    [(issue,)] = conn.execute(
        "UPDATE mlist SET digest_issue = digest_issue + 1 WHERE id = ? RETURNING digest_issue",
        (lst.id,),
    ).fetchall()
    data = _build(lst, int(issue), [bytes(r[1]) for r in rows], now)
    _, to = outbox.enqueue_members(
        conn, data, lst.bounces_address, lst.id, DeliveryMode.DIGEST, "digest", "", now=now
    )
    log.info("%s: digest issue %d, %d posts, to %d members", lst.address, issue, len(rows), to)
    return len(rows)


def send_to_leaver(db: Db, lst: ListInfo, address: str, now: float) -> int:
    """A member leaving digest delivery gets what is pending now, in a digest of their own
    (the others' digest still goes out as due); how many posts it held."""
    conn = connection(db)
    rows = conn.execute(
        "SELECT raw FROM digest_item WHERE list_id = ? ORDER BY id", (lst.id,)
    ).fetchall()
    if not rows:
        return 0
    [(last,)] = conn.execute("SELECT digest_issue FROM mlist WHERE id = ?", (lst.id,)).fetchall()
    issue = int(last) + 1  # the issue the others will get these posts in
    data = _build(lst, issue, [bytes(r[0]) for r in rows], now)
    outbox.enqueue(conn, data, lst.bounces_address, [address], lst.id, "digest", now=now)
    return len(rows)


def due(db: Db, now: float) -> tuple[list[ListInfo], float | None]:
    """The lists whose digest period has run out, and when the next one will."""
    conn = connection(db)
    rows = conn.execute("SELECT list_id, MIN(created) FROM digest_item GROUP BY list_id").fetchall()
    ready, later = [], None
    for list_id, first in rows:
        lst = listrows.by_id(conn, int(list_id))
        at = float(first) + lst.digest_period.seconds
        if at <= now:
            ready.append(lst)
        else:
            later = at if later is None else min(later, at)
    return ready, later


def send_pending(db: Db, list_address: str | None, now: float) -> dict[str, int]:
    """`listfed digests send`: every pending digest (of one list, or all) now."""
    conn = connection(db)
    if list_address is not None:
        chosen = [listrows.find(conn, list_address)]
    else:
        chosen = [info for info, _count in listrows.all_lists(conn)]
    return {lst.address: send(conn, lst, now) for lst in chosen}
