"""What the listing commands show: a list's members, the held posts, the queues; their
JSON shapes (SPEC §9), read with plain sqlite3 so that `members ls`, `held ls` and
`queue ls` answer without loading the SQLAlchemy layer (see db/listrows.py). The
operations that change these rows (ops/members.py, ops/held.py, ops/queue.py) describe
them with the same functions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from listfed.addresses import Kind
from listfed.db import intakefile, listrows

# Every kind of intake has a worker in this version (dispatch.py's table; a test keeps
# the two in step): anything else in the queue was left by a newer or older version.
_WORKED = frozenset(kind.value for kind in Kind)
_MEMBER = (
    "display_address", "name", "role", "delivery", "bounce_score", "delivery_disabled",
    "last_failure", "moderated",
)  # fmt: skip
_HELD = ("id", "sender", "mail_from", "subject", "reason", "received", "message_id", "expires")
_ADDRESS = "m.local || '@' || m.domain"


def when(ts: float) -> str:
    """A time as the listings write it: ISO 8601 in UTC; "" for none."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


def member_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON shape of a member (SPEC §9), from its columns by name."""
    return {
        "address": row["display_address"],
        "name": row["name"],
        "role": row["role"],
        "delivery": row["delivery"],
        "bounce_score": row["bounce_score"],
        "delivery_disabled": bool(row["delivery_disabled"]),
        "last_failure": row["last_failure"],
        "moderated": bool(row["moderated"]),
    }


def held_json(row: Mapping[str, Any], list_address: str) -> dict[str, Any]:
    """The JSON shape of a held post (SPEC §9), from its columns by name."""
    return {
        "id": row["id"],
        "list": list_address,
        "sender": row["sender"] or row["mail_from"],
        "subject": row["subject"],
        "reason": row["reason"],
        "received": when(row["received"]),
        "message_id": row["message_id"],
        "expires": when(row["expires"]),
    }


def members(conn: sqlite3.Connection, list_address: str) -> list[dict[str, Any]]:
    """`members ls`: a list's members by address."""
    info, _count = listrows.get(conn, list_address)
    rows = conn.execute(
        f"SELECT {', '.join(_MEMBER)} FROM member WHERE list_id = ? ORDER BY address",  # noqa: S608
        (info.id,),
    )
    return [member_json(dict(zip(_MEMBER, row, strict=True))) for row in rows]


def held(conn: sqlite3.Connection, list_address: str | None = None) -> list[dict[str, Any]]:
    """`held ls`: the held posts, oldest first; of one list, or of all."""
    where: str = ""
    params: tuple[int, ...] = ()
    if list_address:
        where, params = " WHERE h.list_id = ?", (listrows.get(conn, list_address)[0].id,)
    columns = ", ".join(f"h.{c}" for c in _HELD)
    rows = conn.execute(
        f"SELECT {columns}, {_ADDRESS} FROM held h JOIN mlist m ON m.id = h.list_id"  # noqa: S608
        f"{where} ORDER BY h.id",
        params,
    )
    return [held_json(dict(zip(_HELD, row, strict=False)), row[-1]) for row in rows]


def queue(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """`queue ls`: every queued thing. Ids: ``q12`` intake, ``d34`` delivery."""
    out: list[dict[str, Any]] = []
    items = conn.execute(
        f"SELECT q.id, q.kind, coalesce({_ADDRESS}, ''), q.message_id, q.rcpt, q.attempts, "  # noqa: S608
        "q.next_attempt, q.last_error, q.state FROM queue q "
        "LEFT JOIN mlist m ON m.id = q.list_id ORDER BY q.id"
    )
    for qid, kind, lst, mid, rcpt, attempts, nxt, error, state in items:
        if state == "bad":
            why = "bad: needs a human"
        elif kind in _WORKED:
            why = "waiting for the pipeline"
        else:
            why = f"waiting: no worker for {kind} mail in this version"
        out.append(
            {
                "id": f"q{qid}",
                "kind": kind,
                "list": lst,
                "message_id": mid,
                "recipients": [rcpt],
                "attempts": attempts,
                "next_attempt": when(nxt),
                "last_error": error,
                "state": state,
                "why": why,
            }
        )
    for stored, waiting in intakefile.untaken(conn):  # `[node] processes = 2`
        out.append(
            {
                "id": f"i{stored}",
                "kind": waiting[0].kind if waiting else "",
                "list": _list_address(conn, waiting[0].list_id if waiting else None),
                "message_id": waiting[0].message_id if waiting else "",
                "recipients": [item.rcpt for item in waiting],
                "attempts": 0,
                "next_attempt": "",  # the pipeline takes it when it next looks
                "last_error": "",
                "state": "new",
                "why": "accepted, waiting for the pipeline's process to queue it",
            }
        )
    deliveries = conn.execute(
        f"SELECT o.id, o.kind, coalesce({_ADDRESS}, ''), o.message_id, b.state, "  # noqa: S608
        "MAX(b.attempts), MIN(b.next_attempt), MAX(b.last_error), GROUP_CONCAT(b.address, ' ') "
        "FROM outbox b JOIN outgoing o ON o.id = b.outgoing_id "
        "LEFT JOIN mlist m ON m.id = o.list_id "
        "GROUP BY o.id, b.state ORDER BY o.id, b.state"
    )
    for oid, kind, lst, mid, state, attempts, nxt, error, addresses in deliveries:
        if state == "failed":
            why = "failed for good"
        else:
            why = "waiting to be relayed" if kind == "relay" else "waiting for delivery"
        out.append(
            {
                "id": f"d{oid}",
                "kind": f"delivery:{kind}",
                "list": lst,
                "message_id": mid,
                "recipients": addresses.split(" "),
                "attempts": attempts,
                "next_attempt": when(nxt) if state == "pending" else "",
                "last_error": error or "",
                "state": state,
                "why": why,
            }
        )
    return out


def _list_address(conn: sqlite3.Connection, list_id: int | None) -> str:
    if list_id is None:
        return ""
    row = conn.execute(f"SELECT {_ADDRESS} FROM mlist m WHERE m.id = ?", (list_id,)).fetchone()  # noqa: S608
    return str(row[0]) if row else ""
