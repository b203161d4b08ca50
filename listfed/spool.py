"""Durable intake: a message and its queue rows are committed before the sender hears 250.

Messages from concurrent SMTP sessions share one fsynced transaction (group commit), so
batching buys speed without weakening the promise. A message's bytes are written once,
whatever the number of its recipients.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from listfed.db import intakefile, queue
from listfed.db.engine import Database
from listfed.db.queue import NewItem
from listfed.db.thread import DatabaseThread
from listfed.errors import ListfedError, StorageError
from listfed.groupcommit import GroupCommit
from listfed.wakeup import first_of

log = logging.getLogger("listfed.intake")
T = TypeVar("T")

Message = tuple[bytes, list[NewItem]]  # the bytes, and one item per distinct recipient


class Spool:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._group: GroupCommit[Message, list[int]] = GroupCommit(db, self._commit, first=True)

    async def store(self, raw: bytes, items: list[NewItem]) -> list[int]:
        """Commit one message; its items' ids, or StorageError (nothing stored)."""
        return await self._group.submit((raw, items))

    def _commit(self, messages: list[Message]) -> list[list[int]]:
        with self.db.write_plain() as conn:
            return [queue.insert_plain(conn, raw, items) for raw, items in messages]


class FileSpool:
    """Intake's own file (db/intakefile.py), on a thread of its own: for a daemon whose
    pipeline is a second process, so that a sender never waits for a pass's lock."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._thread = DatabaseThread("listfed-intake")
        self._conn: sqlite3.Connection | None = None
        self._group: GroupCommit[Message, int] = GroupCommit(self, self._commit, first=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._thread.call(fn, args)

    async def run_first(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._thread.call(fn, args, first=True)

    def open(self) -> None:
        """Make the file now (before the pipeline's process looks for it)."""
        try:
            self._connection()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open intake's file {self.path}: {exc}") from exc

    async def store(self, raw: bytes, items: list[NewItem]) -> list[int]:
        """Commit one message here; its id for each item, or StorageError."""
        stored = await self._group.submit((raw, items))
        return [stored] * len(items)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = intakefile.connect(self.path, self.busy_timeout)
        return self._conn

    def _commit(self, messages: list[Message]) -> list[int]:
        return intakefile.store(self._connection(), messages)

    async def run_forgetting(self, db: Database, stop: asyncio.Event, every: float = 1.0) -> None:
        """Now and then, delete what the queue took (the database says how far)."""
        forgotten = 0
        while not stop.is_set():
            await first_of(stop, timeout=every)
            try:
                file = await self.run(self._name)
                upto = await db.run(_taken, db, file)
                if upto > forgotten:
                    await self.run(self._forget, upto)
                    forgotten = upto
            except (ListfedError, sqlite3.Error) as exc:
                log.warning("cannot tidy intake's file now: %s", exc)

    def _name(self) -> str:
        return intakefile.name(self._connection())

    def _forget(self, upto: int) -> int:
        return intakefile.forget(self._connection(), upto)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _taken(db: Database, file: str) -> int:
    with db.read_plain() as conn:
        return intakefile.taken(conn, file)
