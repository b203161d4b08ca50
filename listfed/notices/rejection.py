"""The rejection notice: a post was refused, by the list's policy or by its moderators,
and the poster hears why. Written once for the pipeline and for `held reject` (by the
command line or a moderator's reply)."""

from __future__ import annotations

from sqlmodel import Session

from listfed.delivery import outbox
from listfed.listinfo import ListInfo
from listfed.notices.message import notice

BY_POLICY = "was not accepted"
BY_MODERATORS = "was rejected by its moderators"


def send(
    session: Session,
    lst: ListInfo,
    to: str,
    *,
    what: str,
    reason: str,
    subject: str,
    message_id: str,
    now: float,
) -> None:
    """Tell `to` (the post's envelope sender) that its post `what` (BY_POLICY or
    BY_MODERATORS), and why. The caller makes sure `to` is not automatic mail."""
    text = f"Your message to {lst.address} {what}.\n\nReason: {reason}\n\nSubject: {subject}\n"
    data = notice(lst, to, f"Rejected: {subject}"[:200], text, message_id, now=now)
    outbox.enqueue(session, data, lst.bounces_address, [to], lst.id, "notice", now=now)
