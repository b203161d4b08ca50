"""A local post going out through a bridge: the subscribed address speaks for it.

Each bridge that sends is a route from its list to the foreign list (bridges/routing.py),
so the planner (federation/plan.py) decides for it as for routes.

The copy is the relayed copy of federation/outbound.py (original Message-ID, References
and body; this hop's trace) with: From the bridge's address ("Name via LIST"), the author
in Reply-To, To the foreign list (lists that insist on being named accept it), the
author's DKIM signatures removed (From changed: they would fail), a Date always. Its
fingerprint is recorded, so that the copy the foreign list sends back is known.
"""

from __future__ import annotations

from email.utils import formatdate

from sqlmodel import Session

from listfed.bridges import echoes, state
from listfed.config.settings import BridgeConfig
from listfed.delivery import outbox, rewrite
from listfed.mail.rawmail import RawMessage
from listfed.post import Post


def copy(msg: RawMessage, bridge: BridgeConfig, post: Post, now: float) -> bytes:
    out = msg.copy()
    rewrite.as_subscriber(out, bridge.identity, post.lst.local)
    rewrite.put(out, "To", bridge.foreign)
    out.remove("DKIM-Signature")
    if not out.get_all("Date"):
        out.append("Date", formatdate(now))
    return out.to_bytes()


def send(session: Session, post: Post, bridge: BridgeConfig, msg: RawMessage, now: float) -> int:
    """Queue the copy for the foreign list; the outgoing id."""
    data = copy(msg, bridge, post, now)
    echoes.record(session, bridge.name, data, post.message.message_id, now)
    state.sent(session, bridge.name, now)
    return outbox.enqueue(
        session,
        data,
        bridge.identity,
        [bridge.foreign],
        post.lst.id,
        "relay",
        post.message.message_id,
        now=now,
    )
