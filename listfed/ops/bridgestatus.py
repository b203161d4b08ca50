"""The bridges as an admin sees them (`listfed bridges ls`): each [[bridge]] with its row
of `bridge_state`, read with plain SQL, so that the listing loads no ORM."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from listfed.bridges import proof
from listfed.config.settings import BridgeConfig
from listfed.db.plain import Db, connection

NEVER_RAN = "never ran"
NEVER_CONNECTED = "never connected"  # an IMAP bridge that has only failed so far
SYNCED = "synced by hand"  # passes of `bridges sync` only: no daemon has watched it yet
ACTIVE = "active"  # an SMTP bridge has no connection: its row counts what came and went

_ROWS = (
    "SELECT name, uidvalidity, last_uid, state, last_error, last_error_at, last_message, "
    "taken, sent FROM bridge_state"
)


@dataclass(frozen=True)
class BridgeRow:
    """A bridge's row of `bridge_state` (db/models.py BridgeState)."""

    name: str
    uidvalidity: int
    last_uid: int
    state: str
    last_error: str
    last_error_at: float
    last_message: float
    taken: int
    sent: int


def rows(db: Db) -> dict[str, BridgeRow]:
    """Every bridge's row, by name (a bridge that never ran has none)."""
    return {
        str(r[0]): BridgeRow(str(r[0]), *r[1:]) for r in connection(db, flush=False).execute(_ROWS)
    }


def status(db: Db, bridges: Sequence[BridgeConfig], secret: str = "") -> list[dict[str, Any]]:
    """Every configured bridge, in config order, with its state (a row left by a bridge
    that is no longer configured is not shown)."""
    found = rows(db)
    return [describe(b, found.get(b.name), secret) for b in bridges]


def describe(bridge: BridgeConfig, row: BridgeRow | None, secret: str = "") -> dict[str, Any]:
    """One bridge as `bridges ls --json` shows it; never the password. `subscribe` is
    the address to subscribe to the foreign list, with the tag that proves its posts
    (bridges/proof.py); it needs the node `secret`."""
    imap = bridge.imap is not None
    return {
        "name": bridge.name,
        "kind": "imap" if imap else "smtp",
        "list": bridge.list,
        "foreign": bridge.foreign,
        "address": bridge.address,
        "imap": bridge.imap,
        "username": bridge.username,
        "post_as": bridge.identity if imap else None,
        "smtp": bridge.smtp,
        "direction": bridge.direction,
        "subscribe": proof.subscribed(secret, bridge),
        "state": _state(imap, row),
        "uidvalidity": (row.uidvalidity if row else 0) if imap else None,
        "last_uid": (row.last_uid if row else 0) if imap else None,
        "last_message": _when(row.last_message) if row else "",
        "last_error": row.last_error if row else "",
        "last_error_at": _when(row.last_error_at) if row else "",
        "taken": row.taken if row else 0,
        "sent": row.sent if row else 0,
    }


def _state(imap: bool, row: BridgeRow | None) -> str:
    if row is None:
        return NEVER_RAN
    if row.state or not imap:
        return row.state or ACTIVE
    return SYNCED if row.uidvalidity else NEVER_CONNECTED


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""
