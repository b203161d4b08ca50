"""The relay ledger: one row per relay in or out of a list (list, Message-ID, thread,
route, target, direction, time, outcome). It answers "was this post relayed there
already?", "is this thread shared with that target?" (thread following) and, for
`routes test` and audits, "what happened to it?". Federation writes it; delivery tells
it outcomes through a hook federation owns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from listfed.db.plain import Db, connection

# Plain statements on the caller's connection (db/plain.py), so that `routes test` reads
# the ledger without SQLAlchemy. The relay table is written only here, never through the
# ORM, so a Session's pending changes cannot matter to these: nothing is flushed first.
_RELAYED_OUT = (
    "SELECT route FROM relay WHERE list_id = ? AND message_id = ? AND target = ? "
    "AND direction = 'out' LIMIT 1"
)
_ON_LIST = "SELECT 1 FROM relay WHERE list_id = ? AND message_id = ? LIMIT 1"
_SHARED = (
    "SELECT 1 FROM relay WHERE list_id = ? AND target = ? AND (direction = 'in' OR "
    "route = ?) AND (thread_id = ? OR message_id IN ({})) LIMIT 1"
)
_RECORD = (
    "INSERT INTO relay (list_id, message_id, thread_id, route, target, direction, created, "
    "outcome, outgoing_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_OUTCOME = "UPDATE relay SET outcome = ? WHERE outgoing_id = ?"
_SENT_TO = (
    "SELECT r.message_id, r.outcome, a.sender, a.subject FROM relay r "
    "LEFT JOIN archive a ON a.list_id = r.list_id AND a.message_id = r.message_id "
    "WHERE r.list_id = ? AND r.target = ? AND r.direction = 'out' AND r.created >= ?"
)
_SENT_IDS = _SENT_TO + " AND r.message_id IN ({}) ORDER BY r.id DESC"
_SENT_RECENT = _SENT_TO + " ORDER BY r.id DESC LIMIT ?"
_OUTCOME_OF = (
    "UPDATE relay SET outcome = ? WHERE list_id = ? AND message_id = ? AND target = ? "
    "AND direction = 'out'"
)


def _marks(values: Sequence[object]) -> str:
    """One placeholder per value, for an `IN (...)`."""
    return ", ".join("?" * len(values))


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


def record(db: Db, row: Relay) -> None:
    connection(db, flush=False).execute(
        _RECORD,
        (
            row.list_id,
            row.message_id,
            row.thread_id or row.message_id,
            row.route,
            row.target.lower(),
            row.direction,
            row.created,
            row.outcome,
            row.outgoing_id,
        ),
    )


def relayed_by(db: Db, list_id: int, message_id: str, target: str) -> str | None:
    """The route (or bridge route) that already sent this post from the list to `target`."""
    key = (list_id, message_id, target.lower())
    row = connection(db, flush=False).execute(_RELAYED_OUT, key).fetchone()
    return None if row is None else str(row[0])


def on_list(db: Db, list_id: int, message_id: str) -> bool:
    """Has this Message-ID been relayed in or out of the list (lists without an archive)?"""
    found = connection(db, flush=False).execute(_ON_LIST, (list_id, message_id))
    return found.fetchone() is not None


def shared(
    db: Db, list_id: int, target: str, route: str, thread_id: str, refs: Sequence[str]
) -> bool:
    """Is the thread shared with `target`: relayed there by `route`, or come from there?"""
    query = _SHARED.format(_marks(refs))
    key = (list_id, target.lower(), route, thread_id, *refs)
    return connection(db, flush=False).execute(query, key).fetchone() is not None


def set_outcome(db: Db, outgoing_id: int, outcome: str) -> None:
    connection(db, flush=False).execute(_OUTCOME, (outcome[:500], outgoing_id))


@dataclass(frozen=True)
class Sent:
    """A post the list relayed out, with its author and subject as archived ("" when
    the list keeps no archive)."""

    message_id: str
    outcome: str
    author: str
    subject: str


def sent_to(
    db: Db,
    list_id: int,
    target: str,
    since: float,
    message_ids: Sequence[str] = (),
    limit: int = 100,
) -> list[Sent]:
    """Posts relayed from the list to `target` since then, newest first: those with one
    of `message_ids` when given, else the newest `limit`."""
    conn, key = connection(db, flush=False), (list_id, target.lower(), since)
    if message_ids:
        rows = conn.execute(_SENT_IDS.format(_marks(message_ids)), (*key, *message_ids))
    else:
        rows = conn.execute(_SENT_RECENT, (*key, limit))
    return [Sent(str(m), str(o), str(a or ""), str(s or "")) for m, o, a, s in rows]


def set_outcome_of(db: Db, list_id: int, message_id: str, target: str, outcome: str) -> None:
    """What became of a post relayed to `target`, as its target said later."""
    key = (outcome[:500], list_id, message_id, target.lower())
    connection(db, flush=False).execute(_OUTCOME_OF, key)
