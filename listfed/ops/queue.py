"""What waits and why: intake items not yet processed, deliveries pending or failed."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from listfed.addresses import Kind
from listfed.db import lists
from listfed.db.models import OutboxEntry, QueueItem
from listfed.errors import NotFound

# Every kind of intake has a worker in this version (dispatch.py's table; a test keeps
# the two in step): anything else in the queue was left by a newer or older version.
_WORKED = frozenset(kind.value for kind in Kind)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


def _list_address(session: Session, list_id: int | None) -> str:
    if list_id is None:
        return ""
    try:
        return lists.by_id(session, list_id).address
    except NotFound:
        return ""


def entries(session: Session) -> list[dict[str, Any]]:
    """Every queued thing, as the SPEC §9 JSON shape. Ids: ``q12`` intake, ``d34`` delivery."""
    out: list[dict[str, Any]] = []
    for item in session.exec(select(QueueItem).order_by(col(QueueItem.id))):
        waiting = (
            "bad: needs a human"
            if item.state == "bad"
            else (
                "waiting for the pipeline"
                if item.kind in _WORKED
                else f"waiting: no worker for {item.kind} mail in this version"
            )
        )
        out.append(
            {
                "id": f"q{item.id}",
                "kind": item.kind,
                "list": _list_address(session, item.list_id),
                "message_id": item.message_id,
                "recipients": [item.rcpt],
                "attempts": item.attempts,
                "next_attempt": _when(item.next_attempt),
                "last_error": item.last_error,
                "state": item.state,
                "why": waiting,
            }
        )
    rows = (
        session.connection()
        .execute(
            text(
                "SELECT o.id, o.kind, o.list_id, o.message_id, b.state, COUNT(*), MAX(b.attempts), "
                "MIN(b.next_attempt), MAX(b.last_error), GROUP_CONCAT(b.address, ' ') "
                "FROM outbox b JOIN outgoing o ON o.id = b.outgoing_id "
                "GROUP BY o.id, b.state ORDER BY o.id, b.state"
            )
        )
        .all()
    )
    for oid, kind, list_id, mid, state, _count, attempts, nxt, err, addrs in rows:
        out.append(
            {
                "id": f"d{oid}",
                "kind": f"delivery:{kind}",
                "list": _list_address(session, list_id),
                "message_id": mid,
                "recipients": addrs.split(" "),
                "attempts": attempts,
                "next_attempt": _when(nxt) if state == "pending" else "",
                "last_error": err or "",
                "state": state,
                "why": "failed for good"
                if state == "failed"
                else ("waiting to be relayed" if kind == "relay" else "waiting for delivery"),
            }
        )
    return out


def retry(session: Session, ident: str | None = None) -> int:
    """Make waiting or failed work due now; returns how many items were touched."""
    now = time.time()
    count = 0
    if ident is None or ident.startswith("q"):
        query = update(QueueItem).values(state="new", next_attempt=now)
        if ident is not None:
            query = query.where(col(QueueItem.id) == _number(ident))
        count += session.connection().execute(query).rowcount
    if ident is None or ident.startswith("d"):
        # attempts = 1: a retried row is found by the dispatcher's retry query, and gets
        # the retry steps again from the second one.
        upd = update(OutboxEntry).values(state="pending", next_attempt=now, attempts=1)
        if ident is not None:
            upd = upd.where(col(OutboxEntry.outgoing_id) == _number(ident))
        count += session.connection().execute(upd).rowcount
    if ident is not None and count == 0:
        raise NotFound(f"no queue item {ident} (see `listfed queue ls`)")
    return count


def _number(ident: str) -> int:
    try:
        return int(ident[1:])
    except ValueError:
        raise NotFound(f"no queue item {ident} (ids look like q12 or d34)") from None
