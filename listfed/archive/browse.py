"""The archive as a reader browses it: the lists, each list's threads by last activity,
its months. Plain sqlite3 over the node's database, every value a bound parameter.

Dates are the archived ones (a post's Date, or its arrival where Date was missing or
absurd: archive/record.py); months are UTC months.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ListRow:
    id: int
    local: str
    domain: str
    description: str
    visibility: str

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


@dataclass(frozen=True)
class ListSummary:
    list: ListRow
    posts: int
    last_post: float | None


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    first_id: str  # the thread's earliest archived post, to link to
    subject: str
    author: str  # the first post's author's name (else address)
    posts: int
    last: float  # the latest post's date


_LIST = "SELECT id, local, domain, description, visibility FROM mlist"
_LISTS = (
    "SELECT m.id, m.local, m.domain, m.description, m.visibility, COUNT(a.id), MAX(a.date) "
    "FROM mlist m LEFT JOIN archive a ON a.list_id = m.id "
    "WHERE m.visibility IN ({}) GROUP BY m.id ORDER BY m.domain, m.local"
)
# The earliest archived post of each thread gives the thread its subject and author.
_THREADS = """SELECT t.thread_id, t.n, t.last, f.message_id, f.subject, f.sender_name, f.sender
FROM (SELECT thread_id, COUNT(*) AS n, MAX(date) AS last
      FROM archive WHERE list_id = :list AND date >= :start AND date < :end
      GROUP BY thread_id ORDER BY last DESC LIMIT :limit) t
JOIN archive f ON f.id = (SELECT id FROM archive WHERE list_id = :list
      AND thread_id = t.thread_id ORDER BY date, id LIMIT 1)
ORDER BY t.last DESC"""
_MONTHS = (
    "SELECT CAST(strftime('%Y', date, 'unixepoch') AS INTEGER), "
    "CAST(strftime('%m', date, 'unixepoch') AS INTEGER), COUNT(*) "
    "FROM archive WHERE list_id = ? GROUP BY 1, 2 ORDER BY 1 DESC, 2 DESC"
)
_FOREVER = (-(2**62), 2**62)


def find_list(conn: sqlite3.Connection, address: str) -> ListRow | None:
    """The list at `address` (LIST@DOMAIN, any case), or None."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not (at and local and domain):
        return None
    row = conn.execute(f"{_LIST} WHERE local = ? AND domain = ?", (local, domain)).fetchone()
    return None if row is None else ListRow(*row)


def lists(conn: sqlite3.Connection, visibilities: Sequence[str]) -> list[ListSummary]:
    """The lists of these visibilities with their number of posts and latest post date."""
    if not visibilities:
        return []
    sql = _LISTS.format(",".join("?" * len(visibilities)))
    return [
        ListSummary(ListRow(*row[:5]), int(row[5]), None if row[6] is None else float(row[6]))
        for row in conn.execute(sql, tuple(visibilities))
    ]


def threads(
    conn: sqlite3.Connection, list_id: int, limit: int = 30, between: tuple[float, float] = _FOREVER
) -> list[ThreadSummary]:
    """The list's threads with a post in [start, end), latest activity first; the count
    and the latest date are of the posts in that span."""
    params = {"list": list_id, "start": between[0], "end": between[1], "limit": limit}
    return [
        ThreadSummary(str(tid), str(first), str(subject), str(name or sender), int(n), float(last))
        for tid, n, last, first, subject, name, sender in conn.execute(_THREADS, params)
    ]


def months(conn: sqlite3.Connection, list_id: int) -> list[tuple[int, int, int]]:
    """(year, month, posts) of every month with a post, newest first."""
    return [(int(y), int(m), int(n)) for y, m, n in conn.execute(_MONTHS, (list_id,))]


def month_span(year: int, month: int) -> tuple[float, float]:
    """The first second of a UTC month and of the next; ValueError for no such month."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start.timestamp(), end.timestamp()
