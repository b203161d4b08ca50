"""Who may post, and what may be posted (SPEC §3.3): rules that judge with a reason and
decide nothing else. A moderator's approval passes all of them."""

from __future__ import annotations

import re
from email.message import Message

from listfed import listvalues
from listfed.context import Context
from listfed.db.members import standing
from listfed.listinfo import NonmemberAction, Policy, Role
from listfed.mail import mimeparse
from listfed.post import Decision, Post, Verdict

_NONMEMBER = {
    NonmemberAction.HOLD: Decision.HOLD,
    NonmemberAction.REJECT: Decision.REJECT,
    NonmemberAction.DISCARD: Decision.DISCARD,
}
MAX_PARTS = 1000  # MIME parts looked at; a post with more is held for a human to look


def emergency(ctx: Context, post: Post) -> Verdict | None:
    """Emergency moderation: every post waits, members', relays' and all."""
    if post.lst.emergency and not post.approved:
        return Verdict(Decision.HOLD, "emergency moderation: every post waits for a moderator")
    return None


def posting(ctx: Context, post: Post) -> Verdict | None:
    """Apply the list's policy to the From address (the envelope sender as a fallback)."""
    session = ctx.session
    if post.approved:
        return Verdict(Decision.ACCEPT, "approved by a moderator")
    lst = post.lst
    sender = post.message.sender or post.mail_from
    member = standing(session, lst.id, sender) if sender else None
    role = Role(member.role) if member is not None else None
    who = sender or "an unknown sender"
    if lst.policy is Policy.MODERATED:
        return Verdict(Decision.HOLD, "the list is moderated: every post waits for a moderator")
    if member is not None and member.moderated:
        return Verdict(Decision.HOLD, f"{who} is a member whose posts are moderated")
    listed = bool(sender) and any(
        listvalues.matches(p, sender) for p in lst.accept_these_nonmembers
    )
    if lst.policy is Policy.ANNOUNCE:
        if role in (Role.OWNER, Role.MODERATOR):
            return Verdict(Decision.ACCEPT, f"{who} is a {role} of an announce list")
        if listed:  # SPEC §3.3: owners, moderators and listed posters
            return Verdict(Decision.ACCEPT, f"{who} is a listed poster of an announce list")
        return Verdict(
            Decision.HOLD,
            _unsigned(
                post,
                f"announce list: {who} is not an owner, moderator or listed poster, "
                "so the post waits",
            ),
        )
    if lst.policy is Policy.OPEN:
        return Verdict(Decision.ACCEPT, "open list")
    if member is not None:
        return Verdict(Decision.ACCEPT, f"{who} is a member")
    if listed:
        return Verdict(Decision.ACCEPT, f"{who} is on the list's accept_these_nonmembers")
    action = _NONMEMBER[lst.nonmember_action]
    return Verdict(action, _unsigned(post, f"{who} is not a member of {lst.address}"))


def _unsigned(post: Post, reason: str) -> str:
    """A relay whose signature was refused is judged as its sender's own post: the
    reason says so first, or a moderator sees only "not a member" and wonders why."""
    if not post.refused_signature:
        return reason
    return f"relay signature refused ({post.refused_signature}); as an ordinary post, {reason}"


def size(ctx: Context, post: Post) -> Verdict | None:
    """A post over the list's own size limit waits for a moderator (0: no list limit)."""
    limit = post.lst.max_message_size
    if post.approved or not limit or len(post.raw) <= limit:
        return None
    return Verdict(
        Decision.HOLD, f"the message is {len(post.raw)} bytes, over this list's limit of {limit}"
    )


def content_types(ctx: Context, post: Post) -> Verdict | None:
    """A part of a type in the list's hold_types (e.g. application/x-msdownload, video/*)
    holds the post, wherever it is nested, forwarded messages included."""
    held = post.lst.hold_types
    if post.approved or not held:
        return None
    found = part_types(post.raw, post.message.mime)
    if found is None:
        return Verdict(Decision.HOLD, f"the message has over {MAX_PARTS} MIME parts")
    for kind in found:
        major = kind.partition("/")[0]
        if kind in held or f"{major}/*" in held:
            return Verdict(Decision.HOLD, f"the message contains a {kind} part")
    return None


_TYPE = re.compile(r"\s*(?:\([^()]*\)\s*)*([!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+)")


def _declared_type(part: Message) -> str:
    """The type a part declares, comments skipped; a malformed one is kept as written
    (lower-case), since mail programs may still show the part as an attachment."""
    value = str(part.get("Content-Type", "") or "").lower()
    match = _TYPE.match(value)
    if match:
        return match.group(1)
    return value.split(";", 1)[0].strip() or part.get_content_type()


def part_types(raw: bytes, parsed: Message | None = None) -> list[str] | None:
    """Every MIME part's content type, depth first; None past MAX_PARTS. `parsed` is the
    email package's whole reading of `raw`, where the caller has one."""
    if parsed is not None:
        msg = parsed
    elif mimeparse.too_deep(raw):  # the email package would take minutes: not read, held
        return None
    else:
        try:
            msg = mimeparse.parse(raw)
        except Exception:  # deep nesting overflows the parser: not readable, so held
            return None
    found: list[str] = []
    stack: list[Message] = [msg]
    while stack:  # iterative: no recursion on user data
        part = stack.pop()
        found.append(_declared_type(part))
        if len(found) > MAX_PARTS:
            return None
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
    return found
