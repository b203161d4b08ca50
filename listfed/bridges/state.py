"""A bridge's row in `bridge_state`: its IMAP cursor, its health, its counters.

Everything here runs inside the caller's transaction, so that a cursor moves together
with the queue rows of the messages it covers. Plain statements on the caller's
connection (db/plain.py): one pass of `bridges sync` reads the cursor and notes its
errors without SQLAlchemy. The table is never written through the ORM, so nothing is
flushed first.
"""

from __future__ import annotations

from listfed.bridges.imapwatch import Cursor
from listfed.db.plain import Db, connection

_ENSURE = (
    "INSERT OR IGNORE INTO bridge_state (name, uidvalidity, last_uid, state, last_error, "
    "last_error_at, last_message, taken, sent, updated) VALUES (?, 0, 0, '', '', 0, 0, 0, 0, ?)"
)
_CURSOR = "SELECT uidvalidity, last_uid FROM bridge_state WHERE name = ?"
_SET_CURSOR = "UPDATE bridge_state SET uidvalidity = ?, last_uid = ?, updated = ? WHERE name = ?"
_TAKEN = "UPDATE bridge_state SET taken = taken + ?, last_message = ?, updated = ? WHERE name = ?"
_SENT = "UPDATE bridge_state SET sent = sent + 1, updated = ? WHERE name = ?"
_STATE = "UPDATE bridge_state SET state = ?, updated = ? WHERE name = ?"
_ERROR = "UPDATE bridge_state SET last_error = ?, last_error_at = ?, updated = ? WHERE name = ?"


def _ensure(db: Db, name: str, now: float) -> None:
    connection(db, flush=False).execute(_ENSURE, (name, now))


def cursor(db: Db, name: str) -> Cursor | None:
    """Where the IMAP bridge stopped; None before its first pass."""
    row = connection(db, flush=False).execute(_CURSOR, (name,)).fetchone()
    if row is None or (row[0] == 0 and row[1] == 0):
        return None
    return Cursor(int(row[0]), int(row[1]))


def set_cursor(db: Db, name: str, at: Cursor, now: float) -> None:
    _ensure(db, name, now)
    connection(db, flush=False).execute(_SET_CURSOR, (at.uidvalidity, at.last_uid, now, name))


def taken(db: Db, name: str, count: int, now: float) -> None:
    """`count` posts of the foreign list came in through the bridge."""
    _ensure(db, name, now)
    connection(db, flush=False).execute(_TAKEN, (count, now, now, name))


def sent(db: Db, name: str, now: float) -> None:
    _ensure(db, name, now)
    connection(db, flush=False).execute(_SENT, (now, name))


def set_state(db: Db, name: str, state: str, now: float) -> None:
    _ensure(db, name, now)
    connection(db, flush=False).execute(_STATE, (state, now, name))


def set_error(db: Db, name: str, error: str, now: float) -> None:
    _ensure(db, name, now)
    connection(db, flush=False).execute(_ERROR, (error[:500], now, now, name))
