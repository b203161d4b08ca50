"""Opening the database: WAL, foreign keys, fsync on commit, IMMEDIATE write transactions.

Writes take the write lock up front (BEGIN IMMEDIATE) so that a writer waits for the lock
for `busy_timeout` instead of failing on a read-to-write upgrade; reads stay deferred.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from listfed.db import compressed
from listfed.db.plain import transaction
from listfed.db.thread import DatabaseThread
from listfed.errors import StorageError

T = TypeVar("T")


def _engine(path: Path, busy_timeout: float, begin: str, checkpoints: bool = True) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we answer 250
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        if not checkpoints:  # the daemon's db/checkpoint.Checkpointer does them instead
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()
        compressed.register(dbapi_conn)  # the archive's text (schema v19)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """The node's database file, with a writer and a reader engine.

    In the daemon every call goes through `run`, on one dedicated thread: the event loop
    never waits for SQLite, and there is exactly one writer.
    """

    def __init__(self, path: Path, busy_timeout: float = 5.0, checkpoints: bool = True) -> None:
        """`checkpoints=False`: commits never copy the write-ahead log into the file (the
        daemon, whose db/checkpoint.Checkpointer does that beside them)."""
        self.path = path
        self.busy_timeout = busy_timeout
        self.writer = _engine(path, busy_timeout, "BEGIN IMMEDIATE", checkpoints)
        self.reader = _engine(path, busy_timeout, "BEGIN", checkpoints)
        self._executor: DatabaseThread | None = None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success; any SQLite failure is a StorageError."""
        try:
            with Session(self.writer, expire_on_commit=False) as session:
                yield session
                session.commit()
        except OperationalError as exc:
            raise StorageError(f"database write failed: {exc.orig}") from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with Session(self.reader, expire_on_commit=False) as session:
                yield session
        except OperationalError as exc:
            raise StorageError(f"database read failed: {exc.orig}") from exc

    @contextmanager
    def write_plain(self) -> Iterator[sqlite3.Connection]:
        """`write` without the ORM: a plain sqlite3 connection in one IMMEDIATE
        transaction, committed on success. For the hot paths whose every statement is SQL
        (intake, delivery outcomes), where a Session costs more than the statements."""
        with _plain(self.writer, "BEGIN IMMEDIATE", "write") as conn:
            yield conn

    @contextmanager
    def read_plain(self) -> Iterator[sqlite3.Connection]:
        """`read` without the ORM: a plain sqlite3 connection in one deferred transaction."""
        with _plain(self.reader, "BEGIN", "read") as conn:
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[sqlite3.Connection]:
        """A writer's plain sqlite3 connection outside any transaction, for work that
        issues its own BEGIN and COMMIT (migrations.py: a transaction a schema step)."""
        with _pooled(self.writer) as conn:
            yield conn

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking database function on the database thread."""
        return await self._thread().call(fn, args)

    async def run_first(self, fn: Callable[..., T], *args: Any) -> T:
        """`run`, ahead of every call waiting its turn: intake's, which a sender waits for."""
        return await self._thread().call(fn, args, first=True)

    def intake_waiting(self) -> bool:
        """Is a `run_first` call waiting for the database thread (a sender for its 250)?"""
        return self._executor is not None and self._executor.first_waiting()

    def _thread(self) -> DatabaseThread:
        if self._executor is None:
            self._executor = DatabaseThread()
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.writer.dispose()
        self.reader.dispose()


@contextmanager
def _plain(engine: Engine, begin: str, what: str) -> Iterator[sqlite3.Connection]:
    """A pooled connection's sqlite3 connection inside one transaction (db/plain.py)."""
    with _pooled(engine) as conn, transaction(conn, begin, what):
        yield conn


@contextmanager
def _pooled(engine: Engine) -> Iterator[sqlite3.Connection]:
    """A pooled connection's sqlite3 connection, in autocommit mode (see `_engine`)."""
    pooled = engine.raw_connection()
    try:
        conn = pooled.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        yield conn
    finally:
        pooled.close()  # back to the pool


def sqlite_of(session: Session) -> sqlite3.Connection:
    """The sqlite3 connection under a session, inside the session's own transaction:
    for the hot paths (archive, import) that use plain statements."""
    # Asking the session for its connection costs tens of microseconds, and a pass asks
    # for every plain statement: the answer is kept for as long as the transaction that
    # gave it (a commit or rollback may give the session another connection after).
    root = session.get_transaction()
    kept = session.info.get(_SQLITE)
    if root is not None and kept is not None and kept[0] is root and root.is_active:
        return kept[1]  # type: ignore[no-any-return]
    dbapi = session.connection().connection.dbapi_connection
    assert isinstance(dbapi, sqlite3.Connection)
    session.info[_SQLITE] = (session.get_transaction(), dbapi)
    return dbapi


_SQLITE = "listfed.sqlite3"  # session.info key: (root transaction, its sqlite3 connection)
