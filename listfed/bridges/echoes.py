"""A pipeline rule: a post that a bridge sent to the foreign list and that the foreign
list sent back is not posted again (SPEC §5, DESIGN "bridges").

It is known by, in turn: a trace entry of this list (the foreign list kept our header),
its Message-ID in the relay ledger as sent to the foreign list, or its content: the
fingerprint of what the bridge sent (bridges/fingerprint.py) against the arrival, which the
foreign list has changed (subject prefix, footer, From rewritten, Message-ID replaced).
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
    mid = post.message.message_id
    if trace.names(post.message.traces, node.name, post.lst.address):
        return Verdict(Decision.DROP, f"echo: its trace shows it left {post.lst.address} here")
    if came_from and relayed_by(session, post.lst.id, mid, came_from) is not None:
        return Verdict(Decision.DROP, f"echo: <{mid}> was sent to {came_from} from this list")
    lookup = fingerprint.lookup_key(post.raw)
    found = session.connection().execute(_SENT, {"b": name, "k": lookup})
    for author, body_len, body_hash, sent_mid in found:
        sent = fingerprint.Fingerprint(lookup, author, body_len, body_hash)
        if fingerprint.is_echo(sent, post.raw):
            return Verdict(
                Decision.DROP,
                f"echo: bridge {name} sent this post (<{sent_mid}>) and "
                f"{came_from or 'the foreign list'} sent it back changed",
            )
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
