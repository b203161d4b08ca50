"""Deriving the archive's text, index and threads again from the raw messages.

The raw bytes are the truth; everything else in the archive can be rebuilt from them
(`listfed archive reindex`, and the schema upgrade that brought the index). It packs
each message again with the archive's newest compression dictionary (archive/zdict.py),
making one if there is none. One transaction, owned by the caller: it holds the write
lock until it is done.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from listfed.archive import record, stemvocab, threads, zdict
from listfed.db import compressed
from listfed.mail.text import extract

# the full-text indexes and the triggers that keep each as the archive changes: archive_fts
# (schema v5), and archive_stem from v16 to v18 (the upgrade from before v16 reindexes
# without it; from v19 the words of each stem are in stem_vocab instead)
_INDEXES = {"archive_fts": "archive_fts_update", "archive_stem": "archive_stem_update"}
_STEMS = "SELECT 1 FROM sqlite_master WHERE name = 'stem_vocab'"  # schema v19
_ROWS = (
    "SELECT id, message_id, raw, body_text, date FROM archive WHERE list_id = ? AND id > ? "
    "ORDER BY id LIMIT 500"
)
_SET_TEXT = (
    "UPDATE archive SET sender = ?, sender_name = ?, subject = ?, body_text = ?, "
    "attachments = ?, size = ?, raw = ? WHERE id = ?"
)
_RELAYS = (
    "UPDATE relay SET thread_id = (SELECT a.thread_id FROM archive a "
    "WHERE a.list_id = relay.list_id AND a.message_id = relay.message_id) "
    "WHERE EXISTS (SELECT 1 FROM archive a "
    "WHERE a.list_id = relay.list_id AND a.message_id = relay.message_id)"
)

Progress = Callable[[int], None]


def everything(conn: sqlite3.Connection, progress: Progress | None = None) -> int:
    """Re-extract every archived message's text, rebuild the index and every list's
    threads. Returns how many messages were read."""
    made = dict(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)",
            tuple(_INDEXES.values()),
        ).fetchall()
    )
    triggers = {index: made[name] for index, name in _INDEXES.items() if name in made}
    for index in triggers:
        conn.execute(f"DROP TRIGGER {_INDEXES[index]}")  # the indexes are rebuilt whole below
    done = 0
    lists = [r[0] for r in conn.execute("SELECT DISTINCT list_id FROM archive ORDER BY 1")]
    forests = {}
    packing = _packing(conn)
    for list_id in lists:
        forests[list_id] = _texts(conn, list_id, packing, progress, done)
        done += len(forests[list_id])
    for index, trigger in triggers.items():
        conn.execute(trigger)
        conn.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")  # noqa: S608
    if conn.execute(_STEMS).fetchone() is not None:
        stemvocab.rebuild(conn)
    for list_id, entries in forests.items():
        _rethread(conn, list_id, entries)
    conn.execute(_RELAYS)
    return done


Entry = tuple[
    float, int, str, tuple[str, ...], str, str
]  # date, id, message-id, refs, irt, subject


def _packing(conn: sqlite3.Connection) -> bytes | None:
    """The dictionary to pack messages with (None before schema v18, whose upgrade from
    an older version may reindex, or when the archive is too small to learn from)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'zdict'").fetchone() is None:
        return None
    return zdict.current(conn) or zdict.make(conn)


def _texts(
    conn: sqlite3.Connection,
    list_id: int,
    packing: bytes | None,
    progress: Progress | None,
    done: int,
) -> list[Entry]:
    """Extract the list's messages again; what threading needs of each is returned."""
    entries: list[Entry] = []
    find = zdict.lookup(conn)
    last = 0
    while True:
        rows = conn.execute(_ROWS, (list_id, last)).fetchall()
        if not rows:
            return entries
        changes = []
        for rid, mid, blob, stored, date in rows:
            raw = compressed.unpack_message(blob, stored, find)
            ex = extract(raw)
            # packed again whatever it was packed with: the message is chained to the text
            text = compressed.pack_text(ex.body_text, packing)
            blob = compressed.pack_message(raw, ex.body_text, packing)
            texts = (ex.sender, ex.sender_name, ex.subject, text, ex.attachments)
            changes.append((*texts, len(raw), blob, rid))
            entries.append((date, rid, mid, ex.references, ex.in_reply_to, ex.subject))
        conn.executemany(_SET_TEXT, changes)
        last = rows[-1][0]
        if progress is not None:
            progress(done + len(entries))


def _rethread(conn: sqlite3.Connection, list_id: int, entries: list[Entry]) -> None:
    """Build the list's thread forest again, placing its messages in date order."""
    threads.forget(conn, list_id)
    final: dict[str, str] = {}
    for date, _rid, mid, refs, irt, subject in sorted(entries):
        placed = threads.place(conn, list_id, mid, refs, irt, subject, date)
        final[mid] = placed.thread_id
        final.update(placed.relabelled)
    conn.executemany(record.RELABEL_ARCHIVE, [(th, list_id, mid) for mid, th in final.items()])
