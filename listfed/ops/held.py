"""The hold queue: list, show, approve (back into the pipeline), reject, discard."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from listfed import listvalues, tokens
from listfed.addresses import Kind
from listfed.db import lists, members, queue, spooled
from listfed.db.models import Held
from listfed.db.queue import NewItem
from listfed.errors import NotFound
from listfed.listinfo import ListInfo
from listfed.moderation.hold import release
from listfed.notices import rejection
from listfed.ops import listings


@dataclass(frozen=True)
class Approval:
    queue_id: int  # the post's new intake queue item
    also: str  # what `always` did, in one line; "" without it


def all_held(session: Session, list_address: str | None = None) -> list[tuple[Held, str]]:
    query = select(Held).order_by(col(Held.id))
    if list_address:
        query = query.where(Held.list_id == lists.get(session, list_address).id)
    return [(row, lists.by_id(session, row.list_id).address) for row in session.exec(query)]


def get(session: Session, held_id: int) -> Held:
    row = session.get(Held, held_id)
    if row is None:
        raise NotFound(gone(session, held_id))
    return row


def gone(session: Session, held_id: int) -> str:
    """Why there is no held post `held_id`: decided already, expired, or never held; its
    moderation code, spent when it left the queue, says which (as the moderators' email
    replies tell it)."""
    code = tokens.latest(session, tokens.held_key(held_id))
    if code is None or not code.used:
        return f"no held message {held_id}"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(code.used))
    if code.used >= code.expires:
        return f"held post {held_id} has expired, undecided ({when}); nothing was done"
    return f"held post {held_id} has been decided already ({when}); nothing was done"


def approve(
    session: Session, held_id: int, *, always: bool = False, now: float | None = None
) -> Approval:
    """Send the post back through the pipeline, past the posting policy; `always` also
    lets its sender post without moderation from now on (`accept`)."""
    row = get(session, held_id)
    lst = lists.by_id(session, row.list_id)
    also = accept(session, lst, row.sender or row.mail_from) if always else ""
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
    [queue_id] = queue.insert_stored(session, row.spooled_id, [item])
    release(session, row, time.time() if now is None else now)
    return Approval(queue_id, also)


def raw(session: Session, row: Held) -> bytes:
    """The held post's bytes, as they came in."""
    return spooled.raw(session, row.spooled_id)


def accept(session: Session, lst: ListInfo, address: str) -> str:
    """Let `address` post without moderation: a member loses its moderation flag, a
    non-member joins accept_these_nonmembers. What was done, in one line."""
    if not address:
        return "the post has no sender address to accept"
    member = members.find(session, lst.id, address)
    if member is not None and member.moderated:
        member.moderated = False
        session.add(member)
        return f"{member.display_address}'s posts are no longer moderated"
    if any(listvalues.matches(p, address) for p in lst.accept_these_nonmembers):
        return f"{address} is on the accept list already"
    row = lists.find_row(session, lst.address)
    entry = listvalues.literal(address.lower())
    row.accept_these_nonmembers = "\n".join([*lst.accept_these_nonmembers, entry])
    session.add(row)
    return f"{address} added to the list's accept_these_nonmembers"


def reject(session: Session, held_id: int, reason: str = "", now: float | None = None) -> Held:
    """Remove the post and tell its sender why (unless it came from a robot)."""
    row = get(session, held_id)
    lst = lists.by_id(session, row.list_id)
    now = time.time() if now is None else now
    to = row.mail_from  # the envelope sender; a null one is automatic mail: never answered
    if to:
        rejection.send(
            session,
            lst,
            to,
            what=rejection.BY_MODERATORS,
            reason=reason or "the moderators declined it",
            subject=row.subject,
            message_id=row.message_id,
            now=now,
        )
    release(session, row, now)
    return row


def discard(session: Session, held_id: int, now: float | None = None) -> Held:
    row = get(session, held_id)
    release(session, row, time.time() if now is None else now)
    return row


def describe(row: Held, list_address: str) -> dict[str, Any]:
    """The JSON shape of a held message (SPEC §9)."""
    return listings.held_json(row.model_dump(), list_address)
