"""One pass of an IMAP bridge now (`listfed bridges sync`); what `bridges ls` shows is in
ops/bridgestatus.py.

Up to the mailbox, the pass reads and writes with plain sqlite3 (`OnePass`): the list,
the cursor, a connection error to note. SQLAlchemy is loaded only when a batch is stored
(bridges/inbox.py: the queue, and the notices a bridge's feedback sends, are the ORM's).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from listfed.archive import opendb
from listfed.bridges import state
from listfed.bridges.imapconn import ImapError
from listfed.bridges.watchers import Store, Timing, watcher_for
from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.db import listrows
from listfed.db.plain import transaction
from listfed.db.thread import DatabaseThread
from listfed.errors import ListfedError, NotFound
from listfed.lookups import Signers

if TYPE_CHECKING:
    from sqlmodel import Session

    from listfed.db.engine import Database

T = TypeVar("T")


def find(bridges: Sequence[BridgeConfig], name: str) -> BridgeConfig:
    for bridge in bridges:
        if bridge.name == name:
            return bridge
    known = ", ".join(b.name for b in bridges) or "none: the config has no [[bridge]]"
    raise NotFound(f"no bridge named {name} (configured: {known})")


def syncable(bridge: BridgeConfig) -> BridgeConfig:
    """The bridge if one pass of it means something; else why not, as an error."""
    if bridge.imap is None:
        raise ListfedError(
            f"bridge {bridge.name} is an SMTP bridge: the foreign list's mail reaches it by "
            f"SMTP at {bridge.address}, so there is nothing to sync"
        )
    if not bridge.takes_in:
        raise ListfedError(
            f"bridge {bridge.name} has direction = out: it takes nothing from its mailbox"
        )
    return bridge


@dataclass(frozen=True)
class Pass:
    fetched: int  # new messages read from the mailbox
    queued: int  # of them, posts of the foreign list queued on the local list


class OnePass:
    """The database as one pass uses it (a `Store`, as the daemon's `Database` is): its
    calls on a thread of their own, each on a new plain connection, but a batch to store
    on a `Database` made then."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._thread = DatabaseThread("listfed-sync")
        self._db: Database | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._thread.call(fn, args)

    @contextmanager
    def read_plain(self) -> Iterator[sqlite3.Connection]:
        with self._plain(True, "BEGIN", "read") as conn:
            yield conn

    @contextmanager
    def write_plain(self) -> Iterator[sqlite3.Connection]:
        with self._plain(False, "BEGIN IMMEDIATE", "write") as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Session]:
        if self._db is None:
            from listfed.db.engine import Database  # something to store: the ORM's turn

            self._db = Database(self.path, self.busy_timeout)
        with self._db.write() as session:
            yield session

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._db is not None:
            self._db.close()

    @contextmanager
    def _plain(self, readonly: bool, begin: str, what: str) -> Iterator[sqlite3.Connection]:
        conn = opendb.connect(self.path, self.busy_timeout, readonly)
        try:
            with transaction(conn, begin, what):
                yield conn
        finally:
            conn.close()


@contextmanager
def one_pass(path: Path, busy_timeout: float) -> Iterator[OnePass]:
    """The database of a node whose schema is current, for one pass."""
    db = OnePass(path, busy_timeout)
    try:
        yield db
    finally:
        db.close()


async def sync(
    db: Store,
    node: NodeSettings,
    bridge: BridgeConfig,
    timing: Timing | None = None,
    signers: Signers | None = None,
) -> Pass:
    """One pass of an IMAP bridge: what is new in its mailbox is read, the foreign list's
    posts queued (the daemon's pipeline takes them from there), the cursor moved.
    Raises ImapError when the server cannot be reached or refuses."""
    syncable(bridge)
    local, _, domain = bridge.list.rpartition("@")
    if not await db.run(_list_exists, db, local.lower(), domain.lower()):
        raise NotFound(
            f"bridge {bridge.name}: the list {bridge.list} does not exist "
            f"(`listfed lists create {bridge.list}` makes it)"
        )
    queued = 0

    def taken(count: int) -> None:
        nonlocal queued
        queued += count

    notes: set[asyncio.Task[None]] = set()
    # its connection states are not the daemon's: only its warnings are written
    watcher = watcher_for(
        db, lambda: node, bridge, timing or Timing(), notes, taken, states=False, signers=signers
    )
    try:
        fetched = await watcher.sync_once()
    except ImapError as exc:
        # the daemon's watcher notes its errors itself; one pass has to, for `bridges ls`
        with contextlib.suppress(ListfedError):  # a busy database must not hide it
            await db.run(_note_error, db, bridge.name, str(exc))
        raise ImapError(f"bridge {bridge.name}: {exc}") from exc
    finally:
        await watcher.close()
        # its warnings (skipped messages, a new UIDVALIDITY) are written before we go
        await asyncio.gather(*list(notes), return_exceptions=True)
    return Pass(fetched, queued)


def _note_error(db: Store, name: str, error: str) -> None:
    with db.write_plain() as conn:
        state.set_error(conn, name, error, time.time())


def _list_exists(db: Store, local: str, domain: str) -> bool:
    with db.read_plain() as conn:
        return listrows.id_of(conn, local, domain) is not None
