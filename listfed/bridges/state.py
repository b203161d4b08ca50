"""A bridge's row in `bridge_state`: its IMAP cursor, its health, its counters.

Everything here runs inside the caller's transaction, so that a cursor moves together
with the queue rows of the messages it covers.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from listfed.bridges.imapwatch import Cursor

_ENSURE = text(
    "INSERT OR IGNORE INTO bridge_state (name, uidvalidity, last_uid, state, last_error, "
    "last_error_at, last_message, taken, sent, updated) VALUES (:n, 0, 0, '', '', 0, 0, 0, 0, :t)"
)
_CURSOR = text("SELECT uidvalidity, last_uid FROM bridge_state WHERE name = :n")
_SET_CURSOR = text(
    "UPDATE bridge_state SET uidvalidity = :v, last_uid = :u, updated = :t WHERE name = :n"
)
_TAKEN = text(
    "UPDATE bridge_state SET taken = taken + :k, last_message = :t, updated = :t WHERE name = :n"
)
_SENT = text("UPDATE bridge_state SET sent = sent + 1, updated = :t WHERE name = :n")
_STATE = text("UPDATE bridge_state SET state = :s, updated = :t WHERE name = :n")
_ERROR = text(
    "UPDATE bridge_state SET last_error = :e, last_error_at = :t, updated = :t WHERE name = :n"
)


def _ensure(session: Session, name: str, now: float) -> None:
    session.connection().execute(_ENSURE, {"n": name, "t": now})


def cursor(session: Session, name: str) -> Cursor | None:
    """Where the IMAP bridge stopped; None before its first pass."""
    row = session.connection().execute(_CURSOR, {"n": name}).first()
    if row is None or (row[0] == 0 and row[1] == 0):
        return None
    return Cursor(int(row[0]), int(row[1]))


def set_cursor(session: Session, name: str, at: Cursor, now: float) -> None:
    _ensure(session, name, now)
    session.connection().execute(
        _SET_CURSOR, {"n": name, "v": at.uidvalidity, "u": at.last_uid, "t": now}
    )


def taken(session: Session, name: str, count: int, now: float) -> None:
    """`count` posts of the foreign list came in through the bridge."""
    _ensure(session, name, now)
    session.connection().execute(_TAKEN, {"n": name, "k": count, "t": now})


def sent(session: Session, name: str, now: float) -> None:
    _ensure(session, name, now)
    session.connection().execute(_SENT, {"n": name, "t": now})


def set_state(session: Session, name: str, state: str, now: float) -> None:
    _ensure(session, name, now)
    session.connection().execute(_STATE, {"n": name, "s": state, "t": now})


def set_error(session: Session, name: str, error: str, now: float) -> None:
    _ensure(session, name, now)
    session.connection().execute(_ERROR, {"n": name, "e": error[:500], "t": now})
