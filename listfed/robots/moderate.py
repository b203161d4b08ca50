"""A moderator's reply to LIST-confirm+TOKEN: approve, approve always, reject, discard.

The token is the capability: whoever holds the notice may decide, as in Mailman and
Sympa, so a moderator can answer from any address (a phone's, a forwarding alias).
It is used once; whatever else a reply says changes nothing and gets a short help.
`listfed held ...` acts on the same rows, so the two always agree: a post approved on
the command line is "already decided" by mail, and the other way round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from listfed import tokens
from listfed.context import NodeSettings
from listfed.db.models import Held
from listfed.notices import replies
from listfed.ops import held as held_ops
from listfed.post import Incoming
from listfed.robots.commands import reply_line

log = logging.getLogger("listfed.moderation")

HELP = """\
Nothing was done: the first line of your reply was not understood.

Reply to the moderation notice with one of these as the first line:

    approve           send the post to the list
    approve always    send it, and let its sender post without moderation from now on
    reject REASON     refuse it; the sender is told, with your reason
    discard           drop it silently

Your reply said:
> {line}
"""


@dataclass(frozen=True)
class Decision:
    verb: str  # approve | reject | discard
    always: bool = False
    reason: str = ""


def read_decision(line: str) -> Decision | None:
    """The decision a line states, or None."""
    word, _, rest = line.strip().partition(" ")
    verb = word.lower().rstrip(".!,;:")
    rest = rest.strip()
    if verb == "approve" and rest.lower().rstrip(".!") in ("", "always"):
        return Decision("approve", always=bool(rest))
    if verb == "reject":
        return Decision("reject", reason=rest)
    if verb == "discard" and not rest:
        return Decision("discard")
    return None


def is_moderation(row: tokens.Token | None) -> bool:
    return row is not None and row.action == tokens.Action.MODERATE.value


def by_email(session: Session, node: NodeSettings, mail: Incoming, who: str, now: float) -> str:
    """Act on a moderator's reply; what happened, for the log."""
    row = tokens.peek(session, mail.detail)
    assert row is not None
    owner = mail.lst.sub_address("owner")  # answers come from the owners' address
    held_id = int(row.address.removeprefix("held:"))
    line = reply_line(mail.raw)
    decision = read_decision(line)
    if decision is None:
        replies.answer(
            session, node, mail, who, HELP.format(line=line or "(nothing)"), now, sender=owner
        )
        return f"held {held_id}: reply not understood, help sent"
    post = session.get(Held, held_id)
    if post is not None and not post.list_id == row.list_id == mail.lst.id:
        post = None  # a code of another list's post: nothing of this list to decide
    if post is None:
        gone = "expired, undecided" if now > row.expires else "been decided already"
        said = f"Nothing was done: held post {held_id} has {gone}."
        replies.answer(session, node, mail, who, said + "\n", now, sender=owner)
        return f"held {held_id}: decided already"
    try:
        tokens.redeem(session, node.secret, mail.detail, now)
    except tokens.TokenRefused as exc:
        replies.answer(session, node, mail, who, f"Nothing was done: {exc}.\n", now, sender=owner)
        return f"held {held_id}: {exc}"
    said = _act(session, post, decision, now)
    log.info("%s: held %s %s by mail from %s", mail.lst.address, held_id, decision.verb, who)
    replies.answer(session, node, mail, who, said + "\n", now, sender=owner)
    return f"held {held_id}: {decision.verb} by {who}"


def _act(session: Session, post: Held, decision: Decision, now: float) -> str:
    assert post.id is not None
    what = f'held post {post.id} ("{post.subject or "no subject"}")'
    if decision.verb == "approve":
        approval = held_ops.approve(session, post.id, always=decision.always, now=now)
        also = f"\nAlso: {approval.also}." if approval.also else ""
        return f"Approved {what}: it is on its way to the list.{also}"
    if decision.verb == "reject":
        held_ops.reject(session, post.id, decision.reason, now)
        told = "the sender has been told" if post.mail_from else "nobody to tell"
        return f"Rejected {what}; {told}."
    held_ops.discard(session, post.id, now)
    return f"Discarded {what}."
