"""The hold queue: list, show, approve (back into the pipeline), reject, discard.

Plain SQL (db/heldrows.py): `held approve`, `reject` and `discard` answer without
loading SQLAlchemy; the robots pass their Session (db/plain.py).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from listfed import listvalues, tokens
from listfed.addresses import Kind
from listfed.db import heldrows, listrows, memberrows, queue, spooled
from listfed.db.heldrows import HeldPost
from listfed.db.plain import Db, connection
from listfed.db.queue import NewItem
from listfed.errors import NotFound
from listfed.listinfo import ListInfo
from listfed.moderation.release import release
from listfed.notices import rejection
from listfed.ops import listings


@dataclass(frozen=True)
class Approval:
    queue_id: int  # the post's new intake queue item
    also: str  # what `always` did, in one line; "" without it


def all_held(db: Db, list_address: str | None = None) -> list[tuple[HeldPost, str]]:
    conn = connection(db)
    list_id = listrows.find(conn, list_address).id if list_address else None
    return [
        (row, listrows.by_id(conn, row.list_id).address) for row in heldrows.every(conn, list_id)
    ]


def get(db: Db, held_id: int) -> HeldPost:
    row = heldrows.get(connection(db), held_id)
    if row is None:
        raise NotFound(gone(db, held_id))
    return row


def gone(db: Db, held_id: int) -> str:
    """Why there is no held post `held_id`: decided already, expired, or never held; its
    moderation code, spent when it left the queue, says which (as the moderators' email
    replies tell it)."""
    code = tokens.latest(db, tokens.held_key(held_id))
    if code is None or not code.used:
        return f"no held message {held_id}"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(code.used))
    if code.used >= code.expires:
        return f"held post {held_id} has expired, undecided ({when}); nothing was done"
    return f"held post {held_id} has been decided already ({when}); nothing was done"


def approve(db: Db, held_id: int, *, always: bool = False, now: float | None = None) -> Approval:
    """Send the post back through the pipeline, past the posting policy; `always` also
    lets its sender post without moderation from now on (`accept`)."""
    conn = connection(db)
    row = get(conn, held_id)
    lst = listrows.by_id(conn, row.list_id)
    also = accept(conn, lst, row.sender or row.mail_from) if always else ""
    item = NewItem(
        kind=Kind.POST.value,
        list_id=row.list_id,
        rcpt=lst.address,
        received=row.received,
        mail_from=row.mail_from,
        message_id=row.message_id,
        approved=True,
    )
    # the new item refers to the held bytes before the release lets go of them
    [queue_id] = queue.insert_stored(conn, row.spooled_id, [item])
    release(conn, row.id, time.time() if now is None else now)
    return Approval(queue_id, also)


def raw(db: Db, row: HeldPost) -> bytes:
    """The held post's bytes, as they came in."""
    return spooled.raw(db, row.spooled_id)


def accept(db: Db, lst: ListInfo, address: str) -> str:
    """Let `address` post without moderation: a member loses its moderation flag, a
    non-member joins accept_these_nonmembers. What was done, in one line."""
    if not address:
        return "the post has no sender address to accept"
    conn = connection(db)
    unmoderated = memberrows.unmoderate(conn, lst.id, address)
    if unmoderated is not None:
        return f"{unmoderated}'s posts are no longer moderated"
    if any(listvalues.matches(p, address) for p in lst.accept_these_nonmembers):
        return f"{address} is on the accept list already"
    entry = listvalues.literal(address.lower())
    accepted = "\n".join([*lst.accept_these_nonmembers, entry])
    listrows.update(conn, lst.id, "accept_these_nonmembers", accepted)
    return f"{address} added to the list's accept_these_nonmembers"


def reject(db: Db, held_id: int, reason: str = "", now: float | None = None) -> HeldPost:
    """Remove the post and tell its sender why (unless it came from a robot)."""
    conn = connection(db)
    row = get(conn, held_id)
    lst = listrows.by_id(conn, row.list_id)
    now = time.time() if now is None else now
    to = row.mail_from  # the envelope sender; a null one is automatic mail: never answered
    if to:
        rejection.send(
            conn,
            lst,
            to,
            what=rejection.BY_MODERATORS,
            reason=reason or "the moderators declined it",
            subject=row.subject,
            message_id=row.message_id,
            now=now,
        )
    release(conn, row.id, now)
    return row


def discard(db: Db, held_id: int, now: float | None = None) -> HeldPost:
    conn = connection(db)
    row = get(conn, held_id)
    release(conn, row.id, time.time() if now is None else now)
    return row


def describe(row: HeldPost, list_address: str) -> dict[str, Any]:
    """The JSON shape of a held message (SPEC §9)."""
    return listings.held_json(dataclasses.asdict(row), list_address)
