"""The relay ledger: one row per relay in or out of a list (list, Message-ID, thread,
route, target, direction, time, outcome). It answers "was this post relayed there
already?", "is this thread shared with that target?" (thread following) and, for
`routes test` and audits, "what happened to it?". Federation writes it; delivery tells
it outcomes through a hook federation owns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlmodel import Session

from listfed.db.engine import sqlite_of

_RELAYED_OUT = text(
    "SELECT route FROM relay WHERE list_id = :l AND message_id = :m AND target = :t "
    "AND direction = 'out' LIMIT 1"
)
_ON_LIST = "SELECT 1 FROM relay WHERE list_id = ? AND message_id = ? LIMIT 1"
_SHARED = text(
    "SELECT 1 FROM relay WHERE list_id = :l AND target = :t AND (direction = 'in' OR "
    "route = :r) AND (thread_id = :th OR message_id IN :refs) LIMIT 1"
).bindparams(bindparam("refs", expanding=True))
_RECORD = text(
    "INSERT INTO relay (list_id, message_id, thread_id, route, target, direction, created, "
    "outcome, outgoing_id) VALUES (:l, :m, :th, :r, :t, :d, :c, :o, :g)"
)
_OUTCOME = text("UPDATE relay SET outcome = :s WHERE outgoing_id = :o")
_SENT_TO = (
    "SELECT r.message_id, r.outcome, a.sender, a.subject FROM relay r "
    "LEFT JOIN archive a ON a.list_id = r.list_id AND a.message_id = r.message_id "
    "WHERE r.list_id = :l AND r.target = :t AND r.direction = 'out' AND r.created >= :c"
)
_SENT_IDS = text(_SENT_TO + " AND r.message_id IN :m ORDER BY r.id DESC").bindparams(
    bindparam("m", expanding=True)
)
_SENT_RECENT = text(_SENT_TO + " ORDER BY r.id DESC LIMIT :n")
_OUTCOME_OF = text(
    "UPDATE relay SET outcome = :s WHERE list_id = :l AND message_id = :m AND target = :t "
    "AND direction = 'out'"
)


@dataclass(frozen=True)
class Relay:
    """One ledger row to write."""

    list_id: int
    message_id: str
    thread_id: str
    target: str
    direction: str  # in | out
    outcome: str
    created: float
    route: str = ""
    outgoing_id: int | None = None


def record(session: Session, row: Relay) -> None:
    session.connection().execute(
        _RECORD,
        {
            "l": row.list_id,
            "m": row.message_id,
            "th": row.thread_id or row.message_id,
            "r": row.route,
            "t": row.target.lower(),
            "d": row.direction,
            "c": row.created,
            "o": row.outcome,
            "g": row.outgoing_id,
        },
    )


def relayed_by(session: Session, list_id: int, message_id: str, target: str) -> str | None:
    """The route (or bridge route) that already sent this post from the list to `target`."""
    key = {"l": list_id, "m": message_id, "t": target.lower()}
    row = session.connection().execute(_RELAYED_OUT, key).first()
    return None if row is None else str(row[0])


def on_list(session: Session, list_id: int, message_id: str) -> bool:
    """Has this Message-ID been relayed in or out of the list (lists without an archive)?"""
    return sqlite_of(session).execute(_ON_LIST, (list_id, message_id)).fetchone() is not None


def shared(
    session: Session, list_id: int, target: str, route: str, thread_id: str, refs: Sequence[str]
) -> bool:
    """Is the thread shared with `target`: relayed there by `route`, or come from there?"""
    key = {"l": list_id, "t": target.lower(), "r": route, "th": thread_id, "refs": list(refs)}
    return session.connection().execute(_SHARED, key).first() is not None


def set_outcome(session: Session, outgoing_id: int, outcome: str) -> None:
    session.connection().execute(_OUTCOME, {"s": outcome[:500], "o": outgoing_id})


@dataclass(frozen=True)
class Sent:
    """A post the list relayed out, with its author and subject as archived ("" when
    the list keeps no archive)."""

    message_id: str
    outcome: str
    author: str
    subject: str


def sent_to(
    session: Session,
    list_id: int,
    target: str,
    since: float,
    message_ids: Sequence[str] = (),
    limit: int = 100,
) -> list[Sent]:
    """Posts relayed from the list to `target` since then, newest first: those with one
    of `message_ids` when given, else the newest `limit`."""
    key: dict[str, object] = {"l": list_id, "t": target.lower(), "c": since}
    if message_ids:
        rows = session.connection().execute(_SENT_IDS, {**key, "m": list(message_ids)})
    else:
        rows = session.connection().execute(_SENT_RECENT, {**key, "n": limit})
    return [Sent(str(m), str(o), str(a or ""), str(s or "")) for m, o, a, s in rows]


def set_outcome_of(
    session: Session, list_id: int, message_id: str, target: str, outcome: str
) -> None:
    """What became of a post relayed to `target`, as its target said later."""
    key = {"l": list_id, "m": message_id, "t": target.lower(), "s": outcome[:500]}
    session.connection().execute(_OUTCOME_OF, key)
