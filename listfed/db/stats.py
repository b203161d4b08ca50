"""What the node counts: intake replies, delivery outcomes by recipient domain and
reply code. Each count is kept by day (`stat_day`, pruned after KEEP_DAYS, for
`listfed report`) and in all (`stat_total`, never pruned, for /metrics, whose counters
must only grow). A key is (name, a, b, c): e.g. ("delivery", domain, outcome, code).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping

KEEP_DAYS = 35
Key = tuple[str, str, str, str]  # name, a, b, c

_DAY = (
    "INSERT INTO stat_day (day, name, a, b, c, count) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (day, name, a, b, c) DO UPDATE SET count = count + excluded.count"
)
_TOTAL = (
    "INSERT INTO stat_total (name, a, b, c, count) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (name, a, b, c) DO UPDATE SET count = count + excluded.count"
)


def day_of(when: float) -> int:
    return int(when // 86400)


def add(conn: sqlite3.Connection, counts: Mapping[tuple[int, Key], int]) -> None:
    """Add (day, key) -> n counts, in the caller's transaction."""
    if not counts:
        return
    conn.executemany(_DAY, [(day, *key, n) for (day, key), n in counts.items()])
    totals: Counter[Key] = Counter()
    for (_day, key), n in counts.items():
        totals[key] += n
    conn.executemany(_TOTAL, [(*key, n) for key, n in totals.items()])


def prune(conn: sqlite3.Connection, now: float) -> None:
    conn.execute("DELETE FROM stat_day WHERE day < ?", (day_of(now) - KEEP_DAYS,))


def since(conn: sqlite3.Connection, name: str, first_day: int) -> list[tuple[str, str, str, int]]:
    """(a, b, c, count) of `name` from `first_day` on, summed over the days."""
    rows = conn.execute(
        "SELECT a, b, c, SUM(count) FROM stat_day WHERE name = ? AND day >= ? GROUP BY a, b, c",
        (name, first_day),
    )
    return [(str(a), str(b), str(c), int(n)) for a, b, c, n in rows]


def totals(conn: sqlite3.Connection, name: str) -> list[tuple[str, str, str, int]]:
    rows = conn.execute("SELECT a, b, c, count FROM stat_total WHERE name = ?", (name,))
    return [(str(a), str(b), str(c), int(n)) for a, b, c, n in rows]
