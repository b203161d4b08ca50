"""Keeping the archive's FTS5 indexes in few segments: the daemon's housekeeping merges
them a little at a time, between its other writes.

FTS5 writes the words of each transaction as a segment of its own and merges four
segments of a size into one as it goes. A node that archives one post a transaction so
holds its index in a dozen or more segments, and everything FTS5 reads looks in each of
them: a search's matches, and the hits' snippets (the web face's ranked search makes
those with FTS5 too). On a 116,000-post node, a page's twenty snippets cost 1.3–2.2 ms
in 14 segments against 0.6–0.7 ms in 2 (bench/RESULTS.md). With `usermerge` at 2, the
`merge` command joins any two segments of a size, which leaves one of each size: a
handful at most, usually one large and a few small.

Not `optimize` (nor `merge` with a negative page count): on SQLite 3.40 each of those
leaves the index's structure two levels deeper for good, and FTS5 gives up on an index
past 2,000 levels, so a daemon that optimized every hour would break its archive within
a few months. A merge of two segments of a size keeps the levels few.
"""

from __future__ import annotations

import sqlite3

PAGES = 16  # index pages a step writes: a millisecond or two of a write transaction
USERMERGE = 2  # segments of a size that the merge command joins (FTS5's default: 4)


def tables(conn: sqlite3.Connection) -> list[str]:
    """The FTS5 tables of the database (the archive's, whatever its schema version)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%USING fts5%'"
    )
    return sorted(str(r[0]) for r in rows)


def prepare(conn: sqlite3.Connection, table: str) -> None:
    """Let `merge` join two segments of a size in `table` (a setting FTS5 keeps in the
    table's own config: written once, in the caller's write transaction)."""
    row = conn.execute(
        f"SELECT v FROM {table}_config WHERE k = 'usermerge'"  # noqa: S608 (sqlite_master)
    ).fetchone()
    if row is None or int(row[0]) != USERMERGE:
        conn.execute(
            f"INSERT INTO {table}({table}, rank) VALUES ('usermerge', ?)",  # noqa: S608
            (USERMERGE,),
        )


def step(conn: sqlite3.Connection, table: str) -> bool:
    """Merge up to PAGES pages of `table`'s segments (in the caller's write
    transaction); whether there was anything to merge. FTS5's own test: a merge that
    found nothing changes fewer than two rows."""
    before = conn.total_changes
    conn.execute(
        f"INSERT INTO {table}({table}, rank) VALUES ('merge', ?)",  # noqa: S608
        (PAGES,),
    )
    return conn.total_changes - before >= 2


def segments(conn: sqlite3.Connection, table: str) -> int:
    """How many segments hold `table`'s index, for tests and benchmarks (it reads every
    page number of the index): FTS5 numbers a segment's pages (segment << 37) + page in
    its %_data table (fts5_index.c, FTS5_SEGMENT_ROWID)."""
    query = f"SELECT count(DISTINCT id >> 37) FROM {table}_data WHERE id >> 37 > 0"  # noqa: S608
    return int(conn.execute(query).fetchone()[0])
