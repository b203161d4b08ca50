"""A message's bytes, stored once for every queue item and held post that refers to it.

Rows go away by themselves: a trigger deletes one with the last row that refers to it
(db/schema_v7.py), so no caller frees anything by hand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from listfed.db.plain import Db, connection
from listfed.errors import StorageError


def store(db: Db, raw: bytes) -> int:
    """Keep `raw` in the caller's transaction; its id. Refer to it in the same
    transaction (a queue item, a held post), or it stays until one does."""
    return store_plain(connection(db, flush=False), raw)


def store_plain(conn: sqlite3.Connection, raw: bytes) -> int:
    """`store` in a plain sqlite3 connection's transaction."""
    cursor = conn.execute("INSERT INTO spooled (raw) VALUES (?)", (raw,))
    return int(cursor.lastrowid or 0)


def raws(db: Db, ids: Iterable[int]) -> dict[int, bytes]:
    """The bytes of each id; one object per row, however many items share it."""
    wanted = sorted(set(ids))
    found: dict[int, bytes] = {}
    conn = connection(db, flush=False)
    for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT id, raw FROM spooled WHERE id IN ({marks})"  # noqa: S608
        found.update((int(i), bytes(r)) for i, r in conn.execute(query, chunk))
    return found


def raw(db: Db, spooled_id: int) -> bytes:
    """The bytes of one message; StorageError if they are gone (they never should be)."""
    found = raws(db, [spooled_id]).get(spooled_id)
    if found is None:
        raise StorageError(f"the stored message {spooled_id} is missing from the database")
    return found
