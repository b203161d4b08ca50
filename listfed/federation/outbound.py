"""Sending a post on by the routes that take it (SPEC §5): one relayed copy per route,
one trace header per hop, signed for targets at peers, targets on this node handed
straight to their pipeline. Everything lands in the ledger in the post's transaction.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from listfed.addresses import Kind
from listfed.bridges import outgoing as bridges_out
from listfed.bridges import tags as bridge_tags
from listfed.bridges.routing import bridge_of
from listfed.config.settings import RouteConfig
from listfed.context import Context, NodeSettings
from listfed.db import lists, queue
from listfed.db.queue import NewItem
from listfed.delivery import outbox, subjects
from listfed.federation import signing
from listfed.federation.ledger import record, record_arrival
from listfed.federation.plan import plan
from listfed.mail.rawmail import RawMessage
from listfed.mail.trace import TRACE_HEADER, TraceEntry
from listfed.post import Origin, Post

log = logging.getLogger("listfed.federation")


def relayed_copy(post: Post, route: RouteConfig, node: NodeSettings) -> RawMessage:
    """The post as it leaves by `route`: the route's prefix instead of the list's, no
    earlier signature, this hop's trace appended. Message-ID, From, References and body
    stay as they came."""
    msg = post.message.editable()
    msg.remove(signing.SIGNATURE_HEADER)
    subject = msg.get_decoded("Subject")
    wanted = " ".join((route.prefix or "").split())
    # the list's prefix and every tag this node's routes add, this one's included; to
    # a bridged list, its own tag too (it puts it back on once) and what ours showed
    bridge = bridge_of(node, route)
    known = {post.lst.prefix, wanted, *subjects.route_tags(node.routes)}
    known |= bridge_tags.going_out(bridge) if bridge else set()
    rest = subjects.tidy(subject or "", known)
    rest = f"{wanted} {rest}".strip()
    if rest != " ".join((subject or "").split()):  # else the field stays byte for byte
        msg.replace("Subject", rest or "(no subject)")
    entry = TraceEntry(node.name, post.lst.address, route.forward)
    msg.append(TRACE_HEADER, entry.format())
    return msg


def signed(
    msg: RawMessage, post: Post, node: NodeSettings, secret: str, target: str, now: float
) -> bytes:
    """`msg` as it goes to `target` at a peer: with a v=2 signature for that list (after
    a v=1 one while `[node] sign_v1` is on: peers that know only SPEC §9's form read the
    first), or, when it cannot be signed (a repeated From, Subject or Content-Type),
    unsigned: the peer then takes it as an ordinary post from its sender."""
    data = msg.to_bytes()
    sent = RawMessage.parse(data)  # read as the receiving node will read it
    fields = signing.field_values(sent)
    if fields is None:
        log.warning(
            "%s to %s: sent unsigned: From, Subject or Content-Type occurs more than once",
            post.log_prefix(),
            target,
        )
        return data
    traces = sent.get_all(TRACE_HEADER)
    covered = signing.Covered(post.message.message_id, traces, sent.body, target, fields)
    versions = ("1", "2") if node.sign_v1 else ("2",)
    for version in versions:
        value = signing.sign(secret, node.name, int(now), covered, version)
        msg.append(signing.SIGNATURE_HEADER, value)
    return msg.to_bytes()


def _to_local_list(
    session: Session, post: Post, route: RouteConfig, target: str, data: bytes, now: float
) -> str:
    local, _, domain = target.rpartition("@")
    list_id = lists.id_of(session.connection(), local.lower(), domain.lower())
    if list_id is None:
        log.warning("%s route %s: %s is not a list here", post.log_prefix(), route.name, target)
        return f"failed: {target} is not a list on this node"
    item = NewItem(
        kind=Kind.POST.value,
        list_id=list_id,
        rcpt=target,
        received=now,
        mail_from=post.lst.bounces_address,
        message_id=post.message.message_id,
        origin=str(Origin.route(route.name)),
    )
    queue.insert(session, data, [item])
    return "queued locally"


def relay(ctx: Context, post: Post) -> None:
    """A pipeline stage for accepted posts: ledger the arrival, then relay by route."""
    session, node, now = ctx.session, ctx.node, ctx.now()
    record_arrival(session, post, now)
    copies: dict[str, RawMessage] = {}
    for hop in plan(session, node, post, now):
        if not hop.go:
            log.debug(
                "%s route %s to %s: no, %s",
                post.log_prefix(),
                hop.route.name,
                hop.target,
                hop.reason,
            )
            continue
        route, target = hop.route, hop.target
        if route.name not in copies:
            copies[route.name] = relayed_copy(post, route, node)
        msg = copies[route.name]
        outgoing_id = None
        bridge = bridge_of(node, route)
        if bridge is not None:
            outgoing_id = bridges_out.send(session, post, bridge, msg, now)
            outcome = "pending"
        elif node.hosts(target):
            outcome = _to_local_list(session, post, route, target, msg.to_bytes(), now)
        else:
            peer = node.peer_for(target)
            data = (
                signed(msg.copy(), post, node, peer.secret, target, now)
                if peer is not None and peer.trust == "secret" and peer.secret
                else msg.to_bytes()  # a DKIM peer checks the DKIM signature delivery adds
            )
            outgoing_id = outbox.enqueue(
                session,
                data,
                post.lst.bounces_address,
                [target],
                post.lst.id,
                "relay",
                post.message.message_id,
                now=now,
            )
            outcome = "pending"
        record(session, post, target, "out", outcome, now, route.name, outgoing_id)
        log.info(
            "%s route %s to %s: %s (%s)", post.log_prefix(), route.name, target, outcome, hop.reason
        )
