"""Putting one message into a list's archive: its row, its index entry, its thread.

The same two steps serve live posts, mbox imports and reindexing. `prepare` is the
expensive, database-free part (parsing, text extraction, compression) and may run in
another process; `add` is a few indexed statements on the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from email.message import Message

from listfed.archive import stemvocab, threads
from listfed.db import compressed
from listfed.mail.message import derived_message_id
from listfed.mail.text import Extract, extract

_INSERT = (
    "INSERT INTO archive (list_id, message_id, thread_id, sender, sender_name, date, "
    "subject, body_text, attachments, size, raw, received) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# there already, or removed from it (archive/removal.py): never archived again
_EXISTS = (
    "SELECT 1 FROM archive WHERE list_id = ?1 AND message_id = ?2 "
    "UNION ALL SELECT 1 FROM archive_removed WHERE list_id = ?1 AND message_id = ?2"
)
RELABEL_ARCHIVE = "UPDATE archive SET thread_id = ? WHERE list_id = ? AND message_id = ?"
_RELABEL_RELAYS = "UPDATE relay SET thread_id = ? WHERE list_id = ? AND message_id = ?"


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the archive needs of a message, computed without the database."""

    message_id: str
    extract: Extract
    packed: bytes  # the message, chained to `text` (db/compressed.py)
    text: bytes  # the extract's body_text, packed
    size: int
    date: float | None  # the Date header, else the fallback given
    stems: tuple[tuple[str, str], ...] = ()  # (stem, word) of its words (stemvocab.pairs)


def prepare(
    raw: bytes,
    node: str,
    message_id: str = "",
    fallback_date: float | None = None,
    parsed: Message | None = None,
    zdict: bytes | None = None,
) -> Prepared:
    """Read and compress a message; `message_id` overrides the one in its header,
    `parsed` is the email package's reading of `raw` where the caller has one, `zdict`
    the archive's compression dictionary (archive/zdict.current) where it has one."""
    ex = extract(raw, parsed=parsed)
    mid = message_id or ex.message_id or derived_message_id(raw, node)
    date = ex.date if ex.date is not None else fallback_date
    packed = compressed.pack_message(raw, ex.body_text, zdict)
    text = compressed.pack_text(ex.body_text, zdict)
    indexed = (ex.subject, ex.sender, ex.sender_name, ex.body_text, ex.attachments)
    stems = tuple(stemvocab.pairs(indexed))
    return Prepared(mid, ex, packed, text, len(raw), date, stems)


def add(conn: sqlite3.Connection, list_id: int, item: Prepared, received: float) -> str | None:
    """Archive the message on the list; its thread id, or None when it was there already
    (or was removed from it)."""
    if conn.execute(_EXISTS, (list_id, item.message_id)).fetchone() is not None:
        return None
    ex = item.extract
    date = item.date if item.date is not None else received
    placed = threads.place(
        conn, list_id, item.message_id, ex.references, ex.in_reply_to, ex.subject, date
    )
    conn.execute(
        _INSERT,
        (
            list_id,
            item.message_id,
            placed.thread_id,
            ex.sender,
            ex.sender_name,
            date,
            ex.subject,
            item.text,
            ex.attachments,
            item.size,
            item.packed,
            received,
        ),
    )
    stemvocab.add(conn, item.stems)
    if placed.relabelled:
        changes = [(th, list_id, mid) for mid, th in placed.relabelled.items()]
        conn.executemany(RELABEL_ARCHIVE, changes)
        conn.executemany(_RELABEL_RELAYS, changes)
    return placed.thread_id
