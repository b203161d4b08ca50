"""Opening the node's database with plain sqlite3, for the archive commands.

`archive search` must answer within a fraction of a second, Python's start-up included,
so it does not load the SQLAlchemy layer: a read-only connection, after checking that
the schema is current (when it is not, the caller upgrades it: migrations.upgrade_file).
"""

from __future__ import annotations

import sqlite3

from listfed.db.compressed import register
from listfed.db.version import SCHEMA_VERSION
from listfed.errors import StorageError
from listfed.records import TYPE_CHECKING  # not typing's: 3 ms of a search from the shell

if TYPE_CHECKING:  # a search from the shell does without pathlib (cli/quicksearch.py)
    from pathlib import Path

MMAP = 1 << 30


def schema_version(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def connect(
    path: Path | str,
    busy_timeout: float,
    readonly: bool = False,
    any_thread: bool = False,
    *,
    mapped: bool = True,
) -> sqlite3.Connection:
    """A connection with the daemon's settings (WAL, foreign keys, fsync on commit);
    autocommit mode, so callers write `BEGIN IMMEDIATE` ... `COMMIT` themselves.
    `any_thread`: usable from whichever thread, one at a time (asyncio.to_thread's).
    `mapped=False`: a read-only connection that reads the file instead of mapping it,
    for a process that runs one query and ends (mapping and unmapping cost it ~2 ms)."""
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=not any_thread,
            )
            if mapped:  # a big index read from the page cache
                conn.execute(f"PRAGMA mmap_size={MMAP}")
        else:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        register(conn)  # the archive's text (schema v19)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {path}: {exc}") from None
    return conn


def is_current(conn: sqlite3.Connection) -> bool:
    return schema_version(conn) == SCHEMA_VERSION
