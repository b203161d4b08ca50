"""The hold queue's rows with plain sqlite3: a held post, every held post, taking one
out. `held approve`, `reject` and `discard` come here (with ops/held.py), so that they
answer without loading the SQLAlchemy layer; `held ls` reads through ops/listings.py.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class HeldPost:
    """A held post's row (the `held` table); its bytes are in `spooled`."""

    id: int
    list_id: int
    mail_from: str
    sender: str
    subject: str
    message_id: str
    reason: str
    spooled_id: int
    received: float
    expires: float  # 0: waits until someone decides


_SELECT = (
    "SELECT id, list_id, mail_from, sender, subject, message_id, reason, spooled_id, "
    "received, expires FROM held"
)


def get(conn: sqlite3.Connection, held_id: int) -> HeldPost | None:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (held_id,)).fetchone()
    return None if row is None else HeldPost(*row)


def every(conn: sqlite3.Connection, list_id: int | None = None) -> list[HeldPost]:
    """The held posts, oldest first; of one list, or of all."""
    if list_id is None:
        return [HeldPost(*row) for row in conn.execute(f"{_SELECT} ORDER BY id")]
    rows = conn.execute(f"{_SELECT} WHERE list_id = ? ORDER BY id", (list_id,))
    return [HeldPost(*row) for row in rows]


def delete(conn: sqlite3.Connection, held_id: int) -> None:
    """The post leaves the hold queue (its bytes go with the last row that refers to them)."""
    conn.execute("DELETE FROM held WHERE id = ?", (held_id,))
