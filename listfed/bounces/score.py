"""Bounce scores (SPEC §4, §9): a permanent failure raises a member's score by one, at
most once per UTC day; at the list's threshold delivery is disabled and the member and
the owners are told. A score with no bounce for `bounce_reset_after` goes back to 0, and
mail from the member (a post, a confirmed `set delivery ...`) re-enables delivery.

With `[delivery] verp = "probes"`, reaching the threshold sends a VERP probe first; the
member is disabled only when the probe bounces too. A probe's bounce is known by the
probe's Message-ID quoted in it (DSNs carry the original's header): it holds a secret
token (an HMAC of the node secret over the list, the member and the probe's time), so
that a stranger who writes a bounce to the member's VERP address (its form is public,
SPEC §9) cannot make it the probe's. Such a bounce counts as any other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from sqlalchemy import text
from sqlmodel import Session

from listfed.context import NodeSettings
from listfed.db import members
from listfed.db.models import Member
from listfed.delivery import outbox
from listfed.listinfo import ListInfo, Role
from listfed.notices import replies, templates
from listfed.notices.message import notice
from listfed.verp import verp_address

log = logging.getLogger("listfed.bounces")

DAY = 86400.0
_TOKEN_BYTES = 10  # 16 base32 characters


def probe_message_id(secret: str, lst: ListInfo, address: str, sent: float) -> str:
    """The Message-ID (without <>) of the probe sent to `address` at `sent`."""
    said = f"listfed probe\n{lst.id}\n{address.lower()}\n{int(sent)}"
    mac = hmac.new(secret.encode(), said.encode(), hashlib.sha256).digest()[:_TOKEN_BYTES]
    token = base64.b32encode(mac).decode().rstrip("=").lower()
    return f"probe.{token}@{lst.domain}"


def quotes_probe(
    session: Session, node: NodeSettings, lst: ListInfo, address: str, raw: bytes
) -> bool:
    """Does this bounce quote the probe that is out for `address`?"""
    row = members.find(session, lst.id, address)
    if row is None or not row.probe_sent:
        return False
    wanted = probe_message_id(node.secret, lst, row.address, row.probe_sent)
    return wanted.lower().encode() in raw.lower()  # one linear search


def record_permanent(
    session: Session,
    node: NodeSettings,
    lst: ListInfo,
    address: str,
    now: float,
    reason: str,
    *,
    probe_bounced: bool = False,
) -> str:
    """Count a permanent failure for `address` on `lst`; what happened, for the log."""
    row = members.find(session, lst.id, address)
    if row is None:
        return "not a member"
    row.last_failure = reason[:500]
    session.add(row)
    if row.delivery_disabled:
        return "delivery already disabled"
    if probe_bounced and row.probe_sent:
        return _disable(session, node, lst, row, now, "the probe bounced")
    if row.last_bounce and now - row.last_bounce > node.members.bounce_reset_after:
        row.bounce_score = 0
    if row.bounce_score and int(row.last_bounce // DAY) == int(now // DAY):
        session.add(row)
        return f"score stays {row.bounce_score} (already raised today)"
    row.bounce_score += 1
    row.last_bounce = now
    session.add(row)
    if row.bounce_score < lst.bounce_threshold:
        return f"score {row.bounce_score} of {lst.bounce_threshold}"
    if node.verp == "probes":
        # Only the probe's own bounce disables; another probe at most once a day.
        if row.probe_sent and int(row.probe_sent // DAY) == int(now // DAY):
            return f"score {row.bounce_score}: a probe is out already"
        _probe(session, node, lst, row, now)
        return f"score {row.bounce_score}: probe sent"
    return _disable(session, node, lst, row, now, f"score {row.bounce_score}")


def _disable(
    session: Session, node: NodeSettings, lst: ListInfo, row: Member, now: float, why: str
) -> str:
    row.delivery_disabled = True
    row.disabled_by = "bounces"
    session.add(row)
    address = row.display_address
    replies.send(
        session,
        lst,
        address,
        f"Delivery from {lst.address} paused",
        templates.render(templates.DISABLED, lst, address, mode=row.delivery),
        now,
        node,
    )
    for owner in members.with_role(session, lst.id, Role.OWNER):
        replies.send(
            session,
            lst,
            owner,
            f"{address} disabled on {lst.address} by bounces",
            templates.render(
                templates.OWNER_DISABLED,
                lst,
                address,
                score=str(row.bounce_score),
                threshold=str(lst.bounce_threshold),
            ),
            now,
            node,
            sender=lst.sub_address("owner"),
        )
    log.warning("%s: delivery to %s disabled (%s)", lst.address, address, why)
    return f"delivery disabled ({why})"


def _probe(session: Session, node: NodeSettings, lst: ListInfo, row: Member, now: float) -> None:
    row.probe_sent = now
    session.add(row)
    address = row.display_address
    data = notice(
        lst,
        address,
        f"A test message from {lst.address}",
        templates.render(templates.PROBE, lst, address),
        sender=lst.sub_address("owner"),
        message_id=probe_message_id(node.secret, lst, row.address, now),
        now=now,
    )
    envelope = verp_address(lst.bounces_address, address)
    outbox.enqueue(session, data, envelope, [address], lst.id, "probe", now=now)


def reenable(session: Session, lst: ListInfo, address: str) -> bool:
    """Mail from a member whose delivery bounces disabled: enable it again, score 0."""
    found = members.standing(session, lst.id, address)  # the common answer, cheaply
    if found is None or not found.delivery_disabled or found.disabled_by != "bounces":
        return False
    row = members.find(session, lst.id, address)
    if row is None or not row.delivery_disabled:
        return False
    if row.disabled_by != "bounces":
        return False  # disabled by an admin, not by bounces: theirs to undo
    row.delivery_disabled = False
    row.disabled_by = ""
    row.bounce_score = 0
    row.probe_sent = 0.0
    session.add(row)
    log.info("%s: delivery to %s enabled again (mail from it)", lst.address, address)
    return True


# `bounce_score > 0` as written: it lets SQLite read the partial index of the members
# who bounced (schema v17), not the whole member table, once a minute
DECAY = (
    "UPDATE member SET bounce_score = 0, probe_sent = 0 WHERE bounce_score > 0 "
    "AND NOT delivery_disabled AND last_bounce < :t"
)


def decay(session: Session, now: float, reset_after: float) -> int:
    """Reset the scores of enabled members with no bounce for `reset_after` seconds."""
    result = session.connection().execute(
        text(DECAY),
        {"t": now - reset_after},
    )
    return int(result.rowcount or 0)
