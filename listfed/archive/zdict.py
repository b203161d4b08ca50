"""The archive's compression dictionaries (schema v18): zlib's preset dictionary made of
the archive's own messages, which packs a message to about 0.35 of itself instead of
0.52 on a pipermail-like text archive, 0.42 instead of 0.55 on mail as it arrives
(bench/RESULTS.md, "Messages packed with a dictionary").

A dictionary is made once there are `MIN_POSTS` messages to learn from: by the v18
upgrade, by `archive import` after its first batch, by `archive reindex`, or by the
live post that finds the archive has them (`for_packing`: once, some 10-30 ms). It is never
changed once stored, and each packed blob names the one it needs (db/compressed.py), so
a newer one may be made later without touching the rows packed with an older one.
"""

from __future__ import annotations

import sqlite3
import time

from listfed.db import compressed

SIZE = 32 * 1024  # zlib looks back 32 KB at most: a longer dictionary's head is unused
SAMPLE = 400  # messages, spread over the archive
MIN_POSTS = 200
_NEWEST = "SELECT id FROM zdict ORDER BY seq DESC LIMIT 1"


def lookup(conn: sqlite3.Connection) -> compressed.Lookup:
    """Dictionaries by id, for compressed.unpack (read from `conn` once per process)."""
    return compressed.lookup(conn)


def current(conn: sqlite3.Connection) -> bytes | None:
    """The dictionary new messages are packed with, None while there is none."""
    row = conn.execute(_NEWEST).fetchone()
    return None if row is None else lookup(conn)(int(row[0]))


def for_packing(conn: sqlite3.Connection) -> bytes | None:
    """The dictionary to pack a new message with: the current one, else one made now
    if the archive has become large enough to learn from (a row id tells cheaply)."""
    found = current(conn)
    if found is not None:
        return found
    (newest,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM archive").fetchone()
    return make(conn) if newest >= MIN_POSTS else None


def make(conn: sqlite3.Connection) -> bytes | None:
    """Make, store and return a dictionary from a sample of the archive's messages, in
    the caller's transaction; None when the archive holds fewer than MIN_POSTS."""
    ids = [int(r[0]) for r in conn.execute("SELECT id FROM archive ORDER BY id")]
    if len(ids) < MIN_POSTS:
        return None
    chosen = ids[:: max(1, len(ids) // SAMPLE)][:SAMPLE]
    find = lookup(conn)
    texts = []
    for at in range(0, len(chosen), 100):
        part = chosen[at : at + 100]
        marks = ",".join("?" * len(part))
        sql = f"SELECT raw, body_text FROM archive WHERE id IN ({marks}) ORDER BY id"  # noqa: S608
        texts += [compressed.unpack_message(r[0], r[1], find) for r in conn.execute(sql, part)]
    # zlib finds the strings nearest the end of the dictionary in the fewest bits: the
    # newest messages of the sample go last
    data = b"".join(texts)[-SIZE:]
    key = compressed.dictionary_id(data)
    conn.execute(
        "INSERT OR IGNORE INTO zdict (id, data, made) VALUES (?, ?, ?)", (key, data, time.time())
    )
    compressed.remember(data)
    return data
