"""What the foreign list says about a post the bridge sent it: held for its moderators,
rejected, or bounced (issue 19, item 5).

Such a notice comes to the address the post went out from (the bridge's, or an IMAP
bridge's post_as), from the foreign list's robot (`LIST-bounces@`, `LIST-owner@`,
`sympa@` …) or as a bounce. When it can be matched to a post the list relayed to the
foreign list (by a Message-ID it cites, else by the post's subject in its words, newest
post first) the post's author is told, once (the relay ledger's outcome of that post
records what the foreign list said, and the same news is not told twice), unless the
author is an owner of the list, who gets the notice itself. Every such notice is the
bridge's last error (`listfed bridges ls`), matched or not.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlmodel import Session

from listfed.archive.threadkeys import subject_key
from listfed.bridges import foreign, state
from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.db import members, relays
from listfed.listinfo import ListInfo, Role
from listfed.mail.cited import Cited, cited
from listfed.notices import replies

log = logging.getLogger("listfed.bridges")

LOOK_BACK = 30 * 86400.0  # posts relayed longer ago than this are not matched
_MIN_SUBJECT = 4  # characters of a bare subject matched in a notice's words
_QUOTED = 30  # lines of the foreign list's notice quoted to the author
_REJECTED = ("reject", "refused", "denied", "not allowed", "not accepted")
_HELD = ("held", "moderat", "approval", "awaits")


class Said(StrEnum):
    HELD = "held"
    REJECTED = "rejected"
    BOUNCED = "bounced"


_TOLD = {
    Said.HELD: "is holding it for its moderators",
    Said.REJECTED: "rejected it",
    Said.BOUNCED: "could not deliver it: its mail server returned it",
}


def kind(raw: bytes, bridge: BridgeConfig, bounce: bool, notice: Cited) -> Said | None:
    """What a notice to the bridge says, if it is one about a post: a bounce (`bounce`:
    a null envelope sender), or the foreign list's robot saying held or rejected."""
    if bounce or notice.report:
        return Said.BOUNCED
    if not foreign.from_robot(raw, bridge.foreign):
        return None
    words = f"{notice.subject}\n{notice.text}".casefold()
    if any(w in words for w in _REJECTED):
        return Said.REJECTED
    if any(w in words for w in _HELD):
        return Said.HELD
    return None


def handle(
    session: Session,
    node: NodeSettings,
    bridge: BridgeConfig,
    lst: ListInfo,
    raw: bytes,
    bounce: bool,
    now: float,
    *,
    shared: bool = False,
) -> str:
    """Tell the author of the post a notice is about, and note it as the bridge's last
    error; what happened, for the log ("" when `raw` is no such notice). `shared`: the
    mailbox is a person's too (an IMAP bridge's), so a bounce about no post of ours is
    theirs, not the bridge's."""
    notice = cited(raw)
    said = kind(raw, bridge, bounce, notice)
    if said is None:
        return ""
    post = _post(session, lst, bridge, notice, now)
    if post is None and shared:
        return ""
    if post is None:
        what = f"{said} by {bridge.foreign}, about no post sent there: {notice.subject[:120]!r}"
        state.set_error(session, bridge.name, what, now)
        return f"a notice: {what}"
    what = f"{said} by {bridge.foreign}: <{post.message_id}> {post.subject[:120]!r}"
    state.set_error(session, bridge.name, what, now)
    if post.outcome.startswith(f"{said} by "):
        return f"a notice: {what}; its author was told already"
    relays.set_outcome_of(session, lst.id, post.message_id, bridge.foreign, what)
    if not post.author:
        return f"a notice: {what}; its author is unknown (the list keeps no archive)"
    if post.author.lower() in {o.lower() for o in members.with_role(session, lst.id, Role.OWNER)}:
        return f"a notice: {what}; its author, an owner, gets the notice itself"
    subject = f"Your post to {bridge.foreign} was {said}: {post.subject}"
    sent = replies.send(
        session,
        lst,
        post.author,
        subject,
        _text(lst, bridge, said, post, notice),
        now,
        node,
        sender=lst.sub_address("owner"),
        in_reply_to=post.message_id,
    )
    return f"a notice: {what}; {'its author told' if sent else 'its author not told (limit)'}"


def _post(
    session: Session, lst: ListInfo, bridge: BridgeConfig, notice: Cited, now: float
) -> relays.Sent | None:
    """The post the notice is about: by a Message-ID it cites, else by its subject."""
    since = now - LOOK_BACK
    if notice.message_ids:
        found = relays.sent_to(session, lst.id, bridge.foreign, since, notice.message_ids)
        if found:
            return found[0]
    words = " ".join(f"{notice.subject}\n{notice.text}".split()).casefold()
    for post in relays.sent_to(session, lst.id, bridge.foreign, since):
        bare = subject_key(post.subject)[0]
        if len(bare) >= _MIN_SUBJECT and bare in words:
            return post
    return None


def _text(lst: ListInfo, bridge: BridgeConfig, said: Said, post: relays.Sent, n: Cited) -> str:
    quoted = "\n".join(f"> {line[:200]}" for line in n.text.splitlines()[:_QUOTED])
    return (
        f'Your post "{post.subject}" (Message-ID <{post.message_id}>) to {lst.address}\n'
        f"went on to {bridge.foreign}, which {_TOLD[said]}.\n"
        f"On {lst.address} it was posted as usual; the members of {bridge.foreign}\n"
        f"{'have not had it' if said is not Said.HELD else 'have not had it yet'}.\n\n"
        f"What {bridge.foreign} wrote ({n.subject[:120]}):\n\n{quoted}\n\n"
        f"The owners of {lst.address} have this notice too: {lst.sub_address('owner')}\n"
    )
