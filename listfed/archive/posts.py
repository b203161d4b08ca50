"""Archived posts as a reader asks for them: one post with its place in its thread, a
thread's posts, the newest posts, and the raw messages of a span or a thread (for mbox).
Plain sqlite3, every value a bound parameter."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from listfed.archive import zdict
from listfed.db import compressed

# the text through the SQL function every connection has (db/compressed.py, schema v19)
_FIELDS = "message_id, thread_id, sender, sender_name, subject, date, listfed_text(body_text)"
_CHILDREN = (
    "SELECT message_id FROM thread_node WHERE list_id = ? AND parent = ? AND archived "
    "ORDER BY date, message_id"
)
_PARENT = (
    "SELECT n.parent FROM thread_node n JOIN thread_node p ON p.list_id = n.list_id "
    "AND p.message_id = n.parent WHERE n.list_id = ? AND n.message_id = ? AND p.archived"
)
_BATCH = 200
_STORED = "MAX(size, length(raw))"  # size: the unpacked length (0 in rows from before v5)


@dataclass(frozen=True)
class Post:
    message_id: str
    thread_id: str
    sender: str
    sender_name: str
    subject: str
    date: float
    body_text: str


@dataclass(frozen=True)
class Placed:
    """A post with its raw bytes, its archived parent ("" if none) and archived replies."""

    post: Post
    raw: bytes
    parent: str
    replies: list[str]


def _post(row: tuple[object, ...]) -> Post:
    mid, tid, sender, name, subject, date, body = row
    return Post(
        str(mid), str(tid), str(sender), str(name), str(subject), float(str(date)), str(body)
    )


def placed(conn: sqlite3.Connection, list_id: int, message_id: str) -> Placed | None:
    """One archived post of the list, or None."""
    row = conn.execute(
        f"SELECT {_FIELDS}, raw FROM archive WHERE list_id = ? AND message_id = ?",  # noqa: S608
        (list_id, message_id),
    ).fetchone()
    if row is None:
        return None
    parent = conn.execute(_PARENT, (list_id, message_id)).fetchone()
    replies = [str(r[0]) for r in conn.execute(_CHILDREN, (list_id, message_id))]
    return Placed(
        _post(row[:7]),
        compressed.unpack_message(row[7], str(row[6]), zdict.lookup(conn)),
        str(parent[0]) if parent else "",
        replies,
    )


def thread_id(conn: sqlite3.Connection, list_id: int, message_id: str) -> str | None:
    """The thread of an archived post of the list, or None."""
    row = conn.execute(
        "SELECT thread_id FROM archive WHERE list_id = ? AND message_id = ?", (list_id, message_id)
    ).fetchone()
    return None if row is None else str(row[0])


def in_thread(conn: sqlite3.Connection, list_id: int, thread: str) -> dict[str, Post]:
    """The archived posts of a thread, by Message-ID."""
    sql = f"SELECT {_FIELDS} FROM archive WHERE list_id = ? AND thread_id = ?"  # noqa: S608
    return {p.message_id: p for p in map(_post, conn.execute(sql, (list_id, thread)))}


def by_ids(conn: sqlite3.Connection, list_id: int, ids: list[str]) -> dict[str, Post]:
    """The archived posts of the list among `ids`, by Message-ID."""
    wanted = [i for i in ids if i][:500]
    if not wanted:
        return {}
    sql = (
        f"SELECT {_FIELDS} FROM archive WHERE list_id = ? "  # noqa: S608
        f"AND message_id IN ({','.join('?' * len(wanted))})"
    )
    return {p.message_id: p for p in map(_post, conn.execute(sql, (list_id, *wanted)))}


def newest(conn: sqlite3.Connection, list_id: int, limit: int = 20) -> list[Post]:
    """The latest posts of the list, newest first."""
    sql = (
        f"SELECT {_FIELDS} FROM archive WHERE list_id = ? "  # noqa: S608
        "ORDER BY date DESC, id DESC LIMIT ?"
    )
    return [_post(r) for r in conn.execute(sql, (list_id, limit))]


def stored_size(conn: sqlite3.Connection, list_id: int, message_id: str) -> int:
    """The bytes of one archived post of the list (0 if there is none): an index probe."""
    sql = f"SELECT {_STORED} FROM archive WHERE list_id = ? AND message_id = ?"  # noqa: S608
    row = conn.execute(sql, (list_id, message_id)).fetchone()
    return 0 if row is None else int(row[0])


def thread_size(conn: sqlite3.Connection, list_id: int, message_id: str) -> int:
    """The bytes of the archived posts of the thread the post belongs to (0 if none)."""
    sql = (
        f"SELECT total({_STORED}) FROM archive WHERE list_id = ? AND thread_id = "  # noqa: S608
        "(SELECT thread_id FROM archive WHERE list_id = ? AND message_id = ?)"
    )
    return int(conn.execute(sql, (list_id, list_id, message_id)).fetchone()[0])


def newest_size(conn: sqlite3.Connection, list_id: int, limit: int) -> int:
    """The bytes of the list's `limit` newest posts (those `newest` reads)."""
    sql = (
        f"SELECT total(n) FROM (SELECT {_STORED} AS n FROM archive "  # noqa: S608
        "WHERE list_id = ? ORDER BY date DESC, id DESC LIMIT ?)"
    )
    return int(conn.execute(sql, (list_id, limit)).fetchone()[0])


def newest_ids(conn: sqlite3.Connection, list_id: int, limit: int) -> list[str]:
    """The Message-IDs of the posts `newest` would read: they change when a post arrives
    or leaves (row ids would not: a deleted newest post's id is the next post's)."""
    sql = "SELECT message_id FROM archive WHERE list_id = ? ORDER BY date DESC, id DESC LIMIT ?"
    return [str(r[0]) for r in conn.execute(sql, (list_id, limit))]


def raw_between(
    conn: sqlite3.Connection, list_id: int, start: float, end: float
) -> Iterator[tuple[bytes, str, float]]:
    """(raw, sender, date) of the posts dated in [start, end), oldest first."""
    sql = (
        "SELECT raw, body_text, sender, date FROM archive WHERE list_id = ? AND date >= ? "
        "AND date < ? "
        "ORDER BY date, id"
    )
    yield from _unpacked(conn.execute(sql, (list_id, start, end)))


def raw_thread(
    conn: sqlite3.Connection, list_id: int, thread: str
) -> Iterator[tuple[bytes, str, float]]:
    """(raw, sender, date) of a thread's archived posts, oldest first."""
    sql = (
        "SELECT raw, body_text, sender, date FROM archive WHERE list_id = ? AND thread_id = ? "
        "ORDER BY date, id"
    )
    yield from _unpacked(conn.execute(sql, (list_id, thread)))


def _unpacked(cursor: sqlite3.Cursor) -> Iterator[tuple[bytes, str, float]]:
    find = zdict.lookup(cursor.connection)
    while rows := cursor.fetchmany(_BATCH):
        for blob, text, sender, date in rows:
            yield compressed.unpack_message(blob, text, find), str(sender), float(date)
