"""Is a Message-ID already on a list? The shared question of the duplicate rule and of
the bridges (a foreign member's direct copy of a post the foreign list sends too)."""

from __future__ import annotations

from listfed.db import relays
from listfed.db.plain import Db, connection

_ARCHIVED = "SELECT 1 FROM archive WHERE list_id = ? AND message_id = ?"
_HELD = "SELECT id FROM held WHERE list_id = ? AND message_id = ?"
_QUEUED = (
    "SELECT id FROM queue WHERE list_id = ? AND message_id = ? AND kind = 'post' "
    "AND state = 'new' AND origin LIKE 'bridge:%' LIMIT 1"
)


def where(db: Db, list_id: int, message_id: str, *, held: bool = True, queued: bool = False) -> str:
    """Where the list has this Message-ID ("" when nowhere), said for a log line: in the
    archive, the relay ledger (lists without an archive), the hold queue (`held`), or,
    with `queued`, queued as a post a bridge proved (`bridges.inbox`)."""
    # plain statements: the duplicate rule asks this of every post (`routes test` of its
    # one, without SQLAlchemy); a held row is flushed as it is added (moderation/hold.py)
    conn, key = connection(db, flush=False), (list_id, message_id)
    if conn.execute(_ARCHIVED, key).fetchone() is not None:
        return "is already on this list"
    if relays.on_list(conn, list_id, message_id):
        return "has been relayed on this list"
    found = conn.execute(_HELD, key).fetchone() if held else None
    if found is not None:
        return f"is already held as {found[0]}"
    found = conn.execute(_QUEUED, key).fetchone() if queued else None
    if found is not None:
        return f"is queued as q{found[0]}, taken in from the foreign list"
    return ""
