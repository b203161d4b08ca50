"""A pipeline rule: a post that a bridge sent to the foreign list and that the foreign
list sent back is not posted again (SPEC §5, DESIGN "bridges").

It is known by, in turn: a trace entry of this list (the foreign list kept our header),
its Message-ID in the relay ledger as sent to the foreign list, or its content: the
fingerprint of what the bridge sent (bridges/fingerprint.py) against the arrival, which the
foreign list has changed (subject prefix, footer, From rewritten, Message-ID replaced).
A post the foreign list wrapped (Mailman's DMARC `wrap_message`: a new message with ours
inside) is judged by the post inside as well: its trace, its Message-ID, its content.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from listfed.bridges import fingerprint
from listfed.context import Context
from listfed.db.relays import relayed_by
from listfed.mail import trace
from listfed.post import Decision, OriginKind, Post, Verdict

_SENT = text(
    "SELECT author, body_len, body_hash, message_id FROM bridge_sent "
    "WHERE bridge = :b AND key = :k ORDER BY id DESC LIMIT 50"
)
_RECORD = text(
    "INSERT INTO bridge_sent (bridge, key, author, body_len, body_hash, message_id, created) "
    "VALUES (:b, :k, :a, :n, :h, :m, :c)"
)
_PURGE = text("DELETE FROM bridge_sent WHERE created < :c")
KEEP = 60 * 86400.0  # a post that comes back later than this is taken as new


def rule(ctx: Context, post: Post) -> Verdict | None:
    session, node = ctx.session, ctx.node
    if post.origin.kind not in (OriginKind.BRIDGE, OriginKind.BRIDGED):
        return None  # an echo is dropped whether or not it was proven the foreign list's
    name = post.origin.name
    bridge = node.bridge(name)
    came_from = bridge.foreign if bridge else ""
    msg = post.message
    if trace.names(msg.all_traces, node.name, post.lst.address):
        return Verdict(Decision.DROP, f"echo: its trace shows it left {post.lst.address} here")
    for mid in msg.message_ids if came_from else ():
        if relayed_by(session, post.lst.id, mid, came_from) is not None:
            return Verdict(Decision.DROP, f"echo: <{mid}> was sent to {came_from} from this list")
    for raw in (post.raw, msg.inner.raw) if msg.inner else (post.raw,):
        sent_mid = _sent(session, name, raw)
        if sent_mid is not None:
            return Verdict(
                Decision.DROP,
                f"echo: bridge {name} sent this post (<{sent_mid}>) and "
                f"{came_from or 'the foreign list'} sent it back changed",
            )
    return None


def _sent(session: Session, bridge: str, raw: bytes) -> str | None:
    """The Message-ID of what `bridge` sent that `raw` is, changed; None if nothing."""
    lookup = fingerprint.lookup_key(raw)
    found = session.connection().execute(_SENT, {"b": bridge, "k": lookup})
    for author, body_len, body_hash, sent_mid in found:
        if fingerprint.is_echo(fingerprint.Fingerprint(lookup, author, body_len, body_hash), raw):
            return str(sent_mid)
    return None


def record(session: Session, bridge: str, data: bytes, message_id: str, now: float) -> None:
    """Remember the fingerprint of exactly what the bridge sends."""
    fp = fingerprint.fingerprint(data)
    session.connection().execute(
        _RECORD,
        {
            "b": bridge,
            "k": fp.key,
            "a": fp.author,
            "n": fp.body_len,
            "h": fp.body_hash,
            "m": message_id,
            "c": now,
        },
    )


def purge(session: Session, now: float) -> int:
    """Forget fingerprints older than KEEP; how many."""
    return int(session.connection().execute(_PURGE, {"c": now - KEEP}).rowcount or 0)
