"""Relays arriving on a list: trusted when signed by a known peer, or sent by a route of
this node; anything else is an ordinary post from its sender (SPEC §5).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlmodel import Session

from listfed.federation import signing
from listfed.listinfo import Policy
from listfed.mail import trace
from listfed.mail.rawmail import RawMessage
from listfed.post import Decision, NodeSettings, Post, Verdict

log = logging.getLogger("listfed.federation")

_RELAYED_OUT = text(
    "SELECT route FROM relay WHERE list_id = :l AND message_id = :m AND target = :t "
    "AND direction = 'out' LIMIT 1"
)
_RECORD = text(
    "INSERT INTO relay (list_id, message_id, thread_id, route, target, direction, created, "
    "outcome, outgoing_id) VALUES (:l, :m, :th, :r, :t, :d, :c, :o, :g)"
)


def _signed_by(node: NodeSettings, post: Post) -> str | None:
    """The peer node that validly signed this relay, else None (the reason is logged)."""
    msg = post.message
    hop = trace.last_hop(msg.traces)
    if hop is None:
        why = "a signature without a trace header"
    else:
        secrets = {p.node: p.secret for p in node.peers}
        raw = RawMessage.parse(post.raw)
        exact = raw.get_all(trace.TRACE_HEADER)  # unfolded, as SPEC §9 says
        forms = [exact] if exact == list(msg.traces) else [exact, list(msg.traces)]
        reasons = []
        for value in msg.signatures:
            for traces in forms:  # then with whitespace runs collapsed, for lenient signers
                checked = signing.verify(
                    value,
                    secrets,
                    msg.message_id,
                    traces,
                    raw.body,
                    time.time(),
                    node.signature_max_age,
                )
                if checked.ok:
                    break
            if checked.ok and checked.node.casefold() == hop.node.casefold():
                return checked.node
            reasons.append(
                checked.reason if not checked.ok else f"signed by {checked.node}, not {hop.node}"
            )
        why = "; ".join(reasons)
    post.reasons.append(f"relay signature refused: {why}")
    log.warning("%s relay signature refused (%s): an ordinary post", post.log_prefix(), why)
    return None


def trusted(session: Session, node: NodeSettings, post: Post) -> Verdict | None:
    """A rule: accept a trusted relay even though its sender is not a member."""
    if post.approved:
        return None
    hop = trace.last_hop(post.message.traces)
    if post.origin.startswith("route:") and hop is not None:
        who = f"relayed from {hop.list} by {post.origin} of this node"
    elif post.origin.startswith("bridge:") and hop is not None:
        who = f"a post of {hop.list}, taken in by {post.origin.replace(':', ' ', 1)} of this node"
    elif post.message.signatures:
        peer = _signed_by(node, post)
        if peer is None or hop is None:
            return None
        who = f"a relay from {hop.list}, signed by peer node {peer}"
    else:
        return None
    post.relay_from = hop.list.lower()
    if post.lst.policy is Policy.MODERATED:
        return Verdict(Decision.HOLD, f"the list is moderated: {who} waits for a moderator")
    return Verdict(Decision.ACCEPT, who)


def relayed_by(session: Session, list_id: int, message_id: str, target: str) -> str | None:
    """The route (or bridge route) that already sent this post from the list to `target`."""
    key = {"l": list_id, "m": message_id, "t": target.lower()}
    row = session.connection().execute(_RELAYED_OUT, key).first()
    return None if row is None else str(row[0])


def record(
    session: Session,
    post: Post,
    target: str,
    direction: str,
    outcome: str,
    route: str = "",
    outgoing_id: int | None = None,
) -> None:
    """One row of the relay ledger."""
    session.connection().execute(
        _RECORD,
        {
            "l": post.lst.id,
            "m": post.message.message_id,
            "th": post.thread_id or post.message.message_id,
            "r": route,
            "t": target.lower(),
            "d": direction,
            "c": time.time(),
            "o": outcome,
            "g": outgoing_id,
        },
    )


def record_arrival(session: Session, node: NodeSettings, post: Post) -> None:
    """An accepted trusted relay shares its thread with the list it came from."""
    if post.relay_from:
        record(session, post, post.relay_from, "in", "received")
