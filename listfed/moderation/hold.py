"""Holding a post: the hold queue row, the moderation token, the moderators' notice,
and a word to the poster when the poster is a member.

Non-members are not told that their post waits: most held non-member posts are spam
with a forged From, and telling the forged address would be backscatter.
"""

from __future__ import annotations

import logging
import time

from sqlmodel import Session

from listfed import tokens
from listfed.context import Context, NodeSettings
from listfed.db import members, spooled
from listfed.db.models import Held
from listfed.delivery import outbox
from listfed.listinfo import ListInfo, Role
from listfed.moderation import notify
from listfed.notices import replies
from listfed.post import Post

log = logging.getLogger("listfed.moderation")

FOREVER = 10 * 365 * 86400.0  # the token lifetime when held posts never expire


def moderators(session: Session, lst: ListInfo) -> list[str]:
    """Who decides on held posts: the moderators, then the owners."""
    found = members.with_role(session, lst.id, Role.MODERATOR)
    found += members.with_role(session, lst.id, Role.OWNER)
    return list(dict.fromkeys(found))


def expiry_text(expires: float) -> str:
    if not expires:
        return "It waits until someone decides."
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
    return f"Undecided, it is dropped on {when}."


def hold(ctx: Context, post: Post) -> None:
    """Put the post in the hold queue and ask the moderators, by mail, to decide."""
    session, node = ctx.session, ctx.node
    assert post.verdict is not None
    lst, now = post.lst, post.received
    expires = now + lst.hold_expiry if lst.hold_expiry else 0.0
    # the bytes its queue item refers to, kept (not copied) until the decision
    kept = post.spooled_id if post.spooled_id is not None else spooled.store(session, post.raw)
    row = Held(
        list_id=lst.id,
        mail_from=post.mail_from,
        sender=post.message.sender,
        subject=post.message.subject,
        message_id=post.message.message_id,
        reason=post.verdict.reason,
        spooled_id=kept,
        received=post.received,
        expires=expires,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    lifetime = (expires - now) if expires else FOREVER
    key = tokens.held_key(row.id)
    token = tokens.issue(session, node.secret, lst, key, tokens.Action.MODERATE, now, lifetime)
    _notify_moderators(session, lst, row, post, token, ctx.now())  # written now
    _tell_member(session, node, post)


def _notify_moderators(
    session: Session, lst: ListInfo, row: Held, post: Post, token: str, now: float
) -> None:
    assert row.id is not None
    to = moderators(session, lst)
    if not to:
        log.warning(
            "%s held as %s: the list has no moderator or owner to ask", post.log_prefix(), row.id
        )
        return
    confirm = lst.sub_address(f"confirm+{token}")
    text = notify.notice_text(
        lst,
        row.id,
        row.reason,
        notify.headers_of(post.raw),
        post.message,
        confirm,
        expiry_text(row.expires),
    )
    subject = f"{lst.prefix} Held for moderation: {post.message.subject or '(no subject)'}"
    data, mid = notify.moderator_notice(
        lst, lst.sub_address("owner"), subject.strip(), text, post.raw, confirm, now
    )
    outbox.enqueue(session, data, lst.bounces_address, to, lst.id, "notice", mid, now=now)
    log.info("%s held as %s; %d moderator(s) asked", post.log_prefix(), row.id, len(to))


def _tell_member(session: Session, node: NodeSettings, post: Post) -> None:
    """A member whose post waits hears so once (rate-limited like all robot mail)."""
    sender = post.message.sender
    if post.message.auto_submitted or not post.mail_from or not sender:
        return
    if post.relay_from or post.origin.relayed or members.find(session, post.lst.id, sender) is None:
        return
    assert post.verdict is not None
    lst = post.lst
    body = (
        f"Your message to {lst.address} is waiting for a moderator.\n\n"
        f"Subject: {post.message.subject}\nReason: {post.verdict.reason}\n\n"
        "You will hear from the list only if it is rejected.\n"
    )
    subject = f"Your message to {lst.address} awaits moderator approval"
    replies.send(
        session,
        lst,
        sender,
        subject,
        body,
        post.received,
        node,
        sender=lst.sub_address("owner"),
        in_reply_to=post.message.message_id,
    )
