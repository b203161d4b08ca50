"""Robot mail out: rate-limited per address, queued in the outbox like any notice.

The limit is what keeps the robots from being used to flood a third party with forged
requests: past `replies_per_hour` to one address, further mail to it is dropped and logged.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid
from typing import TYPE_CHECKING

from listfed.db.plain import Db, connection
from listfed.delivery import outbox
from listfed.listinfo import ListInfo
from listfed.notices import templates
from listfed.notices.message import notice

if TYPE_CHECKING:  # `members add --welcome` loads neither
    from listfed.context import NodeSettings
    from listfed.post import Incoming

log = logging.getLogger("listfed.robots")


def mailbox(address: str) -> str:
    """The key of the limit: ``Ann+x@Example.org`` and ``ann@example.org`` are one inbox."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def room(db: Db, address: str, now: float, per_hour: int) -> bool:
    """Is there room under the limit for `address` (nothing is counted)?"""
    recent = connection(db).execute(
        "SELECT COUNT(*) FROM robot_reply WHERE address = ? AND sent > ?",
        (mailbox(address), now - 3600),
    )
    return int(recent.fetchone()[0]) < per_hour


def allowed(db: Db, address: str, now: float, per_hour: int) -> bool:
    """May the robots write to `address` now? If so, count this message."""
    if not room(db, address, now, per_hour):
        return False
    connection(db).execute(
        "INSERT INTO robot_reply (address, sent) VALUES (?, ?)", (mailbox(address), now)
    )
    return True


def admitted(db: Db, lst: ListInfo, to: str, now: float, per_hour: int) -> bool:
    """`allowed`, and a log line when the limit says no."""
    if allowed(db, to, now, per_hour):
        return True
    log.warning(
        "%s: not writing to %s: %d robot messages in the last hour", lst.address, to, per_hour
    )
    return False


def send(
    db: Db,
    lst: ListInfo,
    to: str,
    subject: str,
    body: str,
    now: float,
    node: NodeSettings,
    *,
    sender: str = "",
    in_reply_to: str = "",
    kind: str = "notice",
) -> bool:
    """Queue one robot message to `to`, unless the rate limit says no; was it queued?"""
    if not admitted(db, lst, to, now, node.members.replies_per_hour):
        return False
    mid = make_msgid(domain=lst.domain)[1:-1]
    data = notice(
        lst,
        to,
        subject,
        body,
        in_reply_to,
        sender=sender or lst.sub_address("request"),
        reply_to=sender,
        message_id=mid,
        now=now,
    )
    outbox.enqueue(db, data, lst.bounces_address, [to], lst.id, kind, mid, now=now)
    return True


def answer(
    db: Db,
    node: NodeSettings,
    mail: Incoming,
    who: str,
    body: str,
    now: float,
    *,
    sender: str = "",
) -> bool:
    """Answer a message to one of the list's robot addresses, as a reply to it."""
    subject = mail.message.subject or f"Your message to {mail.lst.sub_address(mail.kind)}"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    return send(
        db,
        mail.lst,
        who,
        subject,
        body,
        now,
        node,
        sender=sender,
        in_reply_to=mail.message.message_id,
    )


def welcome(db: Db, node: NodeSettings, lst: ListInfo, address: str, now: float) -> bool:
    """Send the list's welcome (its own text, or the default) to a new member."""
    body = templates.render(lst.welcome_message or templates.WELCOME, lst, address)
    return send(db, lst, address, f"Welcome to {lst.address}", body, now, node)


def goodbye(db: Db, node: NodeSettings, lst: ListInfo, address: str, now: float) -> bool:
    """Send the list's goodbye (its own text, or the default) to a member who left."""
    body = templates.render(lst.goodbye_message or templates.GOODBYE, lst, address)
    return send(db, lst, address, f"Goodbye from {lst.address}", body, now, node)


def purge(db: Db, now: float) -> None:
    """Forget reply counts older than the limit's window."""
    connection(db).execute("DELETE FROM robot_reply WHERE sent < ?", (now - 3600,))
