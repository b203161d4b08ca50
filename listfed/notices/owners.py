"""LIST-owner: forwarded to the list's owners, loop-safe; and the owners told of joins
and leaves.

Every forwarded copy carries `X-Listfed-Owner: LIST@DOMAIN` and goes out with the
list's bounce address as envelope sender. Mail that already carries the mark (anywhere:
a bounce quotes the message it returns) is not forwarded again, so an owner address
that bounces or auto-replies cannot start a loop.
"""

from __future__ import annotations

from sqlmodel import Session

from listfed.context import Context, NodeSettings
from listfed.db import members
from listfed.delivery import outbox
from listfed.listinfo import ListInfo, Role
from listfed.notices import replies, templates
from listfed.post import Incoming

MARK = b"X-Listfed-Owner:"


def forward(ctx: Context, mail: Incoming, *, null_sender: bool = False) -> str:
    """Queue `mail` for every owner of its list; what happened, for the log. Bounces are
    forwarded with a null envelope sender (`null_sender`), so nothing can bounce back."""
    session, lst = ctx.session, mail.lst
    if MARK.lower() + b" " + lst.address.encode().lower() in mail.raw.lower():
        return "already forwarded once (X-Listfed-Owner): dropped to avoid a loop"
    owners = members.with_role(session, lst.id, Role.OWNER)
    if not owners:
        return "the list has no owners: dropped"
    data = MARK + b" " + lst.address.encode() + b"\r\n" + mail.raw
    envelope = "" if null_sender else lst.bounces_address
    mid = mail.message.message_id
    outbox.enqueue(session, data, envelope, owners, lst.id, "owner", mid, now=ctx.now())
    return f"forwarded to {len(owners)} owner(s)"


def tell_change(
    session: Session,
    node: NodeSettings,
    lst: ListInfo,
    address: str,
    *,
    joined: bool,
    how: str,
    now: float,
) -> int:
    """Tell the list's owners that `address` joined or left (SPEC §2), unless the list's
    `notify_owners` is false; how many were told (robot mail's rate limit applies)."""
    if not lst.notify_owners:
        return 0
    text = templates.OWNER_JOINED if joined else templates.OWNER_LEFT
    subject = f"{address} {'joined' if joined else 'left'} {lst.address}"
    body = templates.render(text, lst, address, how=how)
    told = 0
    for owner in members.with_role(session, lst.id, Role.OWNER):
        if owner.lower() != address.lower():
            told += replies.send(session, lst, owner, subject, body, now, node)
    return told
