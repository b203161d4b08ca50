"""Retrying what waits: intake items and deliveries made due now. (What waits and why,
`queue ls`, is read by ops/listings.py.)"""

from __future__ import annotations

import time

from listfed.db.plain import Db, connection
from listfed.errors import NotFound


def retry(db: Db, ident: str | None = None) -> int:
    """Make waiting or failed work due now; returns how many items were touched."""
    now = time.time()
    conn = connection(db)
    count = 0
    if ident is None or ident.startswith("q"):
        query = "UPDATE queue SET state = 'new', next_attempt = ?"
        if ident is None:
            count += conn.execute(query, (now,)).rowcount
        else:
            count += conn.execute(f"{query} WHERE id = ?", (now, _number(ident))).rowcount
    if ident is None or ident.startswith("d"):
        # attempts = 1: a retried row is found by the dispatcher's retry query, and gets
        # the retry steps again from the second one.
        query = "UPDATE outbox SET state = 'pending', next_attempt = ?, attempts = 1"
        if ident is None:
            count += conn.execute(query, (now,)).rowcount
        else:
            where = f"{query} WHERE outgoing_id = ?"
            count += conn.execute(where, (now, _number(ident))).rowcount
    if ident is not None and count == 0:
        raise NotFound(f"no queue item {ident} (see `listfed queue ls`)")
    return count


def _number(ident: str) -> int:
    try:
        return int(ident[1:])
    except ValueError:
        raise NotFound(f"no queue item {ident} (ids look like q12 or d34)") from None
