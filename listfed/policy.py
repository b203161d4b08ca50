"""Who may post (SPEC §3.3): judges with a reason, decides nothing else."""

from __future__ import annotations

from sqlmodel import Session

from listfed.listinfo import NonmemberAction, Policy, Role
from listfed.ops.members import member_role
from listfed.post import Decision, NodeSettings, Post, Verdict

_NONMEMBER = {
    NonmemberAction.HOLD: Decision.HOLD,
    NonmemberAction.REJECT: Decision.REJECT,
    NonmemberAction.DISCARD: Decision.DISCARD,
}


def posting(session: Session, node: NodeSettings, post: Post) -> Verdict | None:
    """Apply the list's policy to the From address (the envelope sender as a fallback)."""
    if post.approved:
        return Verdict(Decision.ACCEPT, "approved by a moderator")
    lst = post.lst
    sender = post.message.sender or post.mail_from
    role = member_role(session, lst.id, sender) if sender else None
    who = sender or "an unknown sender"
    if lst.policy is Policy.OPEN:
        return Verdict(Decision.ACCEPT, "open list")
    if lst.policy is Policy.MODERATED:
        return Verdict(Decision.HOLD, "the list is moderated: every post waits for a moderator")
    if lst.policy is Policy.ANNOUNCE:
        if role in (Role.OWNER, Role.MODERATOR):
            return Verdict(Decision.ACCEPT, f"{who} is a {role} of an announce list")
        return Verdict(
            Decision.HOLD,
            f"announce list: {who} is not an owner or moderator, so the post waits",
        )
    if role is not None:
        return Verdict(Decision.ACCEPT, f"{who} is a member")
    action = _NONMEMBER[lst.nonmember_action]
    return Verdict(action, f"{who} is not a member of {lst.address}")


def size(session: Session, node: NodeSettings, post: Post) -> Verdict | None:
    """A post over the list's own size limit waits for a moderator (0: no list limit)."""
    limit = post.lst.max_message_size
    if post.approved or not limit or len(post.raw) <= limit:
        return None
    return Verdict(
        Decision.HOLD, f"the message is {len(post.raw)} bytes, over this list's limit of {limit}"
    )
