"""Relays arriving on a list: trusted when signed by a known peer, or sent by a route of
this node; anything else is an ordinary post from its sender (SPEC §5).
"""

from __future__ import annotations

import logging

from listfed.config.settings import PeerConfig
from listfed.context import Context, NodeSettings
from listfed.federation import signing
from listfed.listinfo import Policy
from listfed.mail import trace
from listfed.post import Decision, OriginKind, Post, Verdict

log = logging.getLogger("listfed.federation")


def _signed_by(node: NodeSettings, post: Post, now: float) -> str | None:
    """The peer node that validly signed this relay, else None (the reason is logged)."""
    msg = post.message
    hop = trace.last_hop(msg.traces)
    if hop is None:
        why = "a signature without a trace header"
    else:
        # HMAC peers only (new secret first, then retiring): a peer trusted by its DKIM
        # key has no secret, and an empty key would let anyone sign as it
        secrets = {p.node: p.secrets for p in node.peers if p.secret and p.trust == "secret"}
        raw = post.message.head
        exact = raw.get_all(trace.TRACE_HEADER)  # unfolded, as SPEC §9 says
        forms = [exact] if exact == list(msg.traces) else [exact, list(msg.traces)]
        fields = signing.field_values(raw)
        reasons = []
        for value in msg.signatures:
            for traces in forms:  # then with whitespace runs collapsed, for lenient signers
                # the target is the list it arrived on: a copy resent elsewhere fails
                covered = signing.Covered(
                    msg.message_id, traces, raw.body, post.lst.address, fields
                )
                checked = signing.verify(
                    value,
                    secrets,
                    covered,
                    now,
                    node.signature_max_age,
                    accept_v1=node.accept_v1_signatures,
                )
                if checked.ok:
                    break
            if checked.ok and checked.node.casefold() == hop.node.casefold():
                return checked.node
            reasons.append(
                checked.reason if not checked.ok else f"signed by {checked.node}, not {hop.node}"
            )
        why = "; ".join(reasons)
    post.refused_signature = why
    post.reasons.append(f"relay signature refused: {why}")
    log.warning("%s relay signature refused (%s): an ordinary post", post.log_prefix(), why)
    return None


def _dkim_peers(node: NodeSettings, name: str) -> list[PeerConfig]:
    return [p for p in node.peers if p.trust == "dkim" and p.node.casefold() == name.casefold()]


def _dkim_signed_by(node: NodeSettings, post: Post, name: str) -> str | None:
    """The peer's domain whose DKIM signature covers this relay whole (checked before
    the pass, with the DNS: lookups.Facts.relay_signers), else None (the reason logged)."""
    for peer in _dkim_peers(node, name):
        theirs = {d.lower() for d in (*peer.domains, peer.node)}
        for domain in post.facts.relay_signers:
            if domain.lower() in theirs:
                return domain
    why = (
        f"no DKIM signature of {name}'s domains covers the relay (its key in DNS, the "
        "Message-ID, From, every X-Listfed-Trace and the whole body)"
    )
    post.refused_signature = why
    post.reasons.append(f"relay signature refused: {why}")
    log.warning("%s relay signature refused (%s): an ordinary post", post.log_prefix(), why)
    return None


def trusted(ctx: Context, post: Post) -> Verdict | None:
    """A rule: accept a trusted relay even though its sender is not a member."""
    node = ctx.node
    if post.approved:
        return None
    hop = trace.last_hop(post.message.traces)
    if post.origin.kind is OriginKind.ROUTE and hop is not None:
        who = f"relayed from {hop.list} by {post.origin} of this node"
    elif post.origin.kind is OriginKind.BRIDGE and hop is not None:
        who = f"a post of {hop.list}, taken in by bridge {post.origin.name} of this node"
    elif post.message.signatures:
        peer = _signed_by(node, post, ctx.now())
        if peer is None or hop is None:
            return None
        who = f"a relay from {hop.list}, signed by peer node {peer}"
    elif hop is not None and _dkim_peers(node, hop.node):
        domain = _dkim_signed_by(node, post, hop.node)
        if domain is None:
            return None
        who = f"a relay from {hop.list}, DKIM-signed by peer node {hop.node} (d={domain})"
    else:
        return None
    post.relay_from = hop.list.lower()
    if post.lst.policy is Policy.MODERATED:
        return Verdict(Decision.HOLD, f"the list is moderated: {who} waits for a moderator")
    return Verdict(Decision.ACCEPT, who)
