"""Is a Message-ID already on a list? The shared question of the duplicate rule and of
the bridges (a foreign member's direct copy of a post the foreign list sends too)."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from listfed.db import relays

_ARCHIVED = text("SELECT 1 FROM archive WHERE list_id = :l AND message_id = :m")
_HELD = text("SELECT id FROM held WHERE list_id = :l AND message_id = :m")
_QUEUED = text(
    "SELECT id FROM queue WHERE list_id = :l AND message_id = :m AND kind = 'post' "
    "AND state = 'new' AND origin LIKE 'bridge:%' LIMIT 1"
)


def where(
    session: Session, list_id: int, message_id: str, *, held: bool = True, queued: bool = False
) -> str:
    """Where the list has this Message-ID ("" when nowhere), said for a log line: in the
    archive, the relay ledger (lists without an archive), the hold queue (`held`), or,
    with `queued`, queued as a post a bridge proved (`bridges.inbox`)."""
    conn, key = session.connection(), {"l": list_id, "m": message_id}
    if conn.execute(_ARCHIVED, key).first() is not None:
        return "is already on this list"
    if relays.on_list(session, list_id, message_id):
        return "has been relayed on this list"
    found = conn.execute(_HELD, key).scalar() if held else None
    if found is not None:
        return f"is already held as {found}"
    found = conn.execute(_QUEUED, key).scalar() if queued else None
    if found is not None:
        return f"is queued as q{found}, taken in from the foreign list"
    return ""
