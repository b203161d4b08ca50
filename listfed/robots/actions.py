"""What the robots do for a person: ask for confirmation, confirm, change delivery.

Shared by -request commands, -join / -leave and -confirm+TOKEN, and by the CLI's
`members add --welcome`. Privacy rule: whatever someone asks about an address, what the
list knows about that address is only ever written to that address itself.
"""

from __future__ import annotations

import logging
import time

from sqlmodel import Session

from listfed import tokens
from listfed.bounces import score
from listfed.context import NodeSettings
from listfed.db import lists
from listfed.db import members as stored_members
from listfed.listinfo import DeliveryMode, ListInfo, Role
from listfed.notices import replies, templates
from listfed.notices.owners import tell_change
from listfed.ops import members
from listfed.tokens import Action

log = logging.getLogger("listfed.robots")


def ask(
    session: Session,
    node: NodeSettings,
    lst: ListInfo,
    action: Action,
    address: str,
    now: float,
    name: str = "",
    requester: str = "",
) -> str:
    """Write to `address` asking it to confirm `action` (or saying there is nothing to
    do); the line for the requester's reply, which never tells whether it is a member."""
    is_member = stored_members.find(session, lst.id, address) is not None
    # Nothing to do: subscribing a member, or anything else for a non-member.
    nothing = is_member if action is Action.SUBSCRIBE else not is_member
    if nothing and requester.lower() == address.lower():
        state = "subscribed already" if is_member else "not subscribed"
        return f"{address} is {state}; nothing was changed."
    if nothing:
        text = templates.ALREADY_MEMBER if is_member else templates.NOT_MEMBER
        replies.send(
            session,
            lst,
            address,
            f"Your request to {lst.address}",
            templates.render(text, lst, address),
            now,
            node,
        )
    else:
        token = tokens.issue(
            session, node.secret, lst, address, action, now, node.members.confirm_expiry, name
        )
        expires = time.strftime(
            "%Y-%m-%d %H:%M UTC", time.gmtime(now + node.members.confirm_expiry)
        )
        body = templates.render(
            templates.CONFIRM,
            lst,
            address,
            action=templates.render(_wording(action), lst, address),
            token=token,
            expires=expires,
        )
        confirm = lst.sub_address(f"confirm+{token}")
        replies.send(session, lst, address, f"confirm {token}", body, now, node, sender=confirm)
        log.info("%s: %s of %s asked, token sent", lst.address, action.value, address)
    what = action.value if action.mode is None else "change delivery"
    return f"A request to {what} has been sent to {address} for confirmation."


def _wording(action: Action) -> str:
    """What the confirmation request asks, after "asked to"."""
    if action is Action.SUBSCRIBE:
        return "subscribe $address to $list"
    if action is Action.UNSUBSCRIBE:
        return "unsubscribe $address from $list"
    assert action.mode is not None
    return f"change the delivery of $list to $address to {action.mode.value}"


def confirm(session: Session, node: NodeSettings, token: str, now: float) -> tuple[str, bool]:
    """Carry out a confirmed request: the line that says what happened, and whether the
    address was already written to about it (welcome, goodbye)."""
    pending = tokens.peek(session, token)
    if pending is not None and pending.action == Action.MODERATE.value:
        return "Not confirmed: this code is for a held post; reply to its notice.", False
    try:
        row = tokens.redeem(session, node.secret, token, now)
    except tokens.TokenRefused as exc:
        return f"Not confirmed: {exc}.", False
    lst = lists.by_id(session, row.list_id)
    mode = Action(row.action).mode
    if mode is not None:
        return set_delivery(session, lst, row.address, mode), False
    if row.action == Action.SUBSCRIBE.value:
        added = members.add(session, lst.address, [row.address], welcome=node, now=now)
        if not added.added:
            return f"{row.address} is subscribed to {lst.address} already.", False
        if row.name:  # set apart: a display name needs no quoting or encoding here
            members.set_value(session, lst.address, row.address, "name", row.name)
        log.info("%s: %s subscribed (confirmed)", lst.address, row.address)
        tell_change(
            session, node, lst, added.added[0], joined=True, how="confirmed by mail", now=now
        )
        return f"{added.added[0]} is now subscribed to {lst.address}.", True
    member = stored_members.find(session, lst.id, row.address)
    if member is None:
        return f"{row.address} is not subscribed to {lst.address}.", False
    owners = stored_members.with_role(session, lst.id, Role.OWNER)
    if member.role == Role.OWNER.value and len(owners) == 1:
        return (
            f"Not done: {member.display_address} is the last owner of {lst.address}; "
            "an admin can remove it (listfed members remove) after naming another owner.",
            False,
        )
    address = member.display_address
    members.remove(session, lst.address, [address])
    replies.goodbye(session, node, lst, address, now)
    log.info("%s: %s unsubscribed (confirmed)", lst.address, address)
    tell_change(session, node, lst, address, joined=False, how="confirmed by mail", now=now)
    return f"{address} has been unsubscribed from {lst.address}.", True


def set_delivery(session: Session, lst: ListInfo, address: str, mode: DeliveryMode) -> str:
    """A member's own (confirmed) delivery change; it also lifts a pause caused by
    bounces, since the confirmation shows that mail reaches the address again."""
    row = stored_members.find(session, lst.id, address)
    if row is None:
        return f"{address} is not a member of {lst.address}; nothing was changed."
    members.set_value(session, lst.address, address, "delivery", mode.value)
    resumed = score.reenable(session, lst, address)
    extra = " Delivery, paused after bounces, has resumed." if resumed else ""
    return f"Delivery for {row.display_address} is now {mode.value}.{extra}"
