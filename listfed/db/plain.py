"""Plain sqlite3 work without the SQLAlchemy layer: one transaction on a connection, and
the connection under whatever a caller holds (a plain connection or a Session).

The daemon's hot paths write through `Database.write_plain`; the commands that write
(`members add`, `lists set`, `held approve`, ...) open their own connection
(archive/opendb.py) and answer without importing SQLAlchemy at all. An operation that
takes `Db` serves both: the robots and the web face pass their Session.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, TypeAlias

from listfed.errors import StorageError

if TYPE_CHECKING:
    from sqlmodel import Session

Db: TypeAlias = "Session | sqlite3.Connection"


@contextmanager
def transaction(conn: sqlite3.Connection, begin: str, what: str) -> Iterator[sqlite3.Connection]:
    """`conn` (autocommit mode) inside one transaction: committed when the block ends,
    rolled back if it raises; any SQLite failure is a StorageError ("database {what}
    failed: ...")."""
    try:
        try:
            conn.execute(begin)
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with suppress(sqlite3.Error):  # the error that brought us here is the news
                    conn.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError as exc:
        raise StorageError(f"database {what} failed: {exc}") from exc


def connection(db: Db, *, flush: bool = True) -> sqlite3.Connection:
    """The sqlite3 connection to run plain statements on, in the caller's transaction: a
    Session's pending changes are flushed first (as its own queries would), so that the
    statements see them; `flush=False` where they cannot matter (a hot path's inserts)."""
    if isinstance(db, sqlite3.Connection):
        return db
    from listfed.db.engine import sqlite_of  # a Session's caller has loaded SQLAlchemy

    if flush:
        db.flush()
    return sqlite_of(db)
