"""Intake's file of its own, for a daemon whose pipeline is a second process (courier/).

Then SMTP intake commits each message (fsynced, before its `250`) to this small SQLite
file beside the database and never takes the database's write lock, which the
pipeline's passes in the other process hold most of the time: a sender never waits for
a pass. The pipeline moves what is here into its queue (`take`, in a transaction on
the database that also records how far it took: meta `intake_taken`), so a message is
queued once however either process stops; intake then deletes what was taken
(`forget`). Ids here are intake's own (`250 ... Queued as N` names the message's row
here); the queue gives its items their queue ids when it takes them.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from listfed.db import queue
from listfed.db.plain import transaction
from listfed.db.queue import NewItem

# meta key in the database: "FILE:N", the last id N taken from the file named FILE (a
# random name each file gets when made: a file made anew, its ids starting again at 1,
# is taken from its start, not from where the one before it ended)
TAKEN = "intake_taken"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS incoming ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, raw BLOB NOT NULL, items TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS about (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_FIELDS = (
    "kind",
    "list_id",
    "rcpt",
    "received",
    "mail_from",
    "message_id",
    "detail",
    "approved",
    "origin",
    "not_before",
)


def path_of(database: Path) -> Path:
    return database.with_name(database.name + "-intake.db")


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """The file, made if missing (readable by its owner only, like the database): WAL,
    a commit on disk before it returns."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False)
    conn.isolation_level = None
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.execute(
        "INSERT OR IGNORE INTO about (key, value) VALUES ('file', ?)", (secrets.token_hex(8),)
    )
    return conn


def name(intake: sqlite3.Connection) -> str:
    """The file's own random name (see TAKEN)."""
    row = intake.execute("SELECT value FROM about WHERE key = 'file'").fetchone()
    return str(row[0]) if row else ""


def store(
    conn: sqlite3.Connection, messages: Sequence[tuple[bytes, Sequence[NewItem]]]
) -> list[int]:
    """Commit the messages in one transaction; each one's id here."""
    ids: list[int] = []
    with transaction(conn, "BEGIN IMMEDIATE", "intake"):
        for raw, items in messages:
            encoded = json.dumps([[getattr(i, f) for f in _FIELDS] for i in items])
            cursor = conn.execute("INSERT INTO incoming (raw, items) VALUES (?, ?)", (raw, encoded))
            ids.append(int(cursor.lastrowid or 0))
    return ids


def take(intake: sqlite3.Connection, conn: sqlite3.Connection, limit: int = 200) -> int:
    """Queue what intake committed since the last take, in the caller's write transaction
    on the database (`conn`); the last id taken so far."""
    file = name(intake)
    after = taken(conn, file)
    rows = intake.execute(
        "SELECT id, raw, items FROM incoming WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
    ).fetchall()
    messages = [
        (bytes(raw), [_item(fields) for fields in json.loads(items)]) for _, raw, items in rows
    ]
    named = {i.list_id for _, items in messages for i in items if i.list_id is not None}
    lists = _existing(conn, named)
    for raw, items in messages:
        # an item of a list deleted since goes as the list's queue went (ON DELETE CASCADE)
        kept = [item for item in items if item.list_id is None or item.list_id in lists]
        queue.insert_plain(conn, raw, kept)  # nothing stored for no items
    if not rows:
        return after
    last = int(rows[-1][0])
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (TAKEN, f"{file}:{last}")
    )
    return last


def _existing(conn: sqlite3.Connection, list_ids: set[int]) -> set[int]:
    """Those of `list_ids` that are lists still (the lists a take's messages are for)."""
    wanted = sorted(list_ids)
    found: set[int] = set()
    for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT id FROM mlist WHERE id IN ({marks})"  # noqa: S608
        found.update(int(i) for (i,) in conn.execute(query, chunk))
    return found


def _item(fields: list[object]) -> NewItem:
    return NewItem(**dict(zip(_FIELDS, fields, strict=True)))  # type: ignore[arg-type]


def waiting(intake: sqlite3.Connection, after: int) -> bool:
    """Is anything here past `after` (a read: no lock on the database)?"""
    found = intake.execute("SELECT 1 FROM incoming WHERE id > ? LIMIT 1", (after,)).fetchone()
    return found is not None


def untaken(conn: sqlite3.Connection) -> list[tuple[int, list[NewItem]]]:
    """What intake's file beside `conn`'s database holds that the queue has not taken
    (`listfed queue ls`): each message's id there and its items, oldest first. Read
    only; nothing if there is no such file."""
    main = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    path = path_of(Path(main)) if main else None
    if path is None or not path.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as intake:
            rows = intake.execute(
                "SELECT id, items FROM incoming WHERE id > ? ORDER BY id",
                (taken(conn, name(intake)),),
            ).fetchall()
    except sqlite3.Error:  # being made, or not readable by this user: nothing to show
        return []
    return [(int(i), [_item(fields) for fields in json.loads(items)]) for i, items in rows]


def taken(conn: sqlite3.Connection, file: str) -> int:
    """The last id the queue took from the file named `file` (read from the database)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (TAKEN,)).fetchone()
    taken_from, _, last = str(row[0]).rpartition(":") if row else ("", "", "0")
    return int(last) if taken_from == file and last.isdigit() else 0


def forget(intake: sqlite3.Connection, upto: int) -> int:
    """Delete what the queue took; how many rows."""
    return intake.execute("DELETE FROM incoming WHERE id <= ?", (upto,)).rowcount
