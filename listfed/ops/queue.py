"""Retrying what waits: intake items and deliveries made due now. (What waits and why,
`queue ls`, is read by ops/listings.py.)"""

from __future__ import annotations

import time

from sqlalchemy import update
from sqlmodel import Session, col

from listfed.db.models import OutboxEntry, QueueItem
from listfed.errors import NotFound


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
