"""The rejection notice: a post was refused, by the list's policy or by its moderators,
and the poster hears why. Written once for the pipeline and for `held reject` (by the
command line or a moderator's reply)."""

from __future__ import annotations

from listfed.db.plain import Db
from listfed.delivery import outbox
from listfed.listinfo import ListInfo
from listfed.notices import replies
from listfed.notices.message import notice

BY_POLICY = "was not accepted"
BY_MODERATORS = "was rejected by its moderators"


def send(
    db: Db,
    lst: ListInfo,
    to: str,
    *,
    what: str,
    reason: str,
    subject: str,
    message_id: str,
    now: float,
    per_hour: int | None = None,
) -> bool:
    """Tell `to` (the post's envelope sender) that its post `what` (BY_POLICY or
    BY_MODERATORS), and why; was it queued? The caller makes sure `to` is not automatic
    mail. An automatic rejection (`per_hour`: the robots' limit per address) goes to a
    sender nobody verified, perhaps forged: it is rate-limited like robot replies, and
    names the post by its Message-ID, never repeating its subject, which would carry a
    spammer's words to a forged address (backscatter). A moderator's rejection follows
    a person's decision about one post, and quotes its subject."""
    if per_hour is None:
        title = f"Rejected: {subject}"[:200]
        which = f"Subject: {subject}"
    elif replies.admitted(db, lst, to, now, per_hour):
        title = f"Rejected: your message to {lst.address}"
        which = f"Message-ID: <{message_id}>"
    else:
        return False
    text = f"Your message to {lst.address} {what}.\n\nReason: {reason}\n\n{which}\n"
    data = notice(lst, to, title, text, message_id, now=now)
    outbox.enqueue(db, data, lst.bounces_address, [to], lst.id, "notice", now=now)
    return True
