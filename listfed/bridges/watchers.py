"""The daemon's IMAP bridges: one task per bridge, each an ImapWatcher over the bridge's
mailbox whose batches land in the database with the cursor in one transaction.

`Watchers.apply(bridges)` starts, stops and restarts tasks so that the running set
matches the config (at start and on SIGHUP); an unchanged bridge keeps its connection.
`watcher_for` is also what `listfed bridges sync` uses for one pass, on a `Store` of its
own (ops/bridges.py) that loads SQLAlchemy only when a batch is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from listfed.bridges import foreign, state
from listfed.bridges.imapwatch import Cursor, Fetched, ImapTarget, ImapWatcher, parse_imap_url
from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.errors import ListfedError
from listfed.lookups import Signers

if TYPE_CHECKING:
    from sqlmodel import Session

T = TypeVar("T")

log = logging.getLogger("listfed.bridges")
WARNINGS = frozenset({"error", "skipped", "uidvalidity changed"})  # ImapWatcher's events
STATES = frozenset({"connected", "idle", "polling", "disconnected"})


@dataclass(frozen=True)
class Timing:
    """How an IMAP bridge waits: per call, IDLE renewal, reconnects, polling."""

    timeout: float = 30.0
    idle_renew: float = 25 * 60.0  # RFC 2177: servers may drop an IDLE after 29 minutes
    backoff: tuple[float, ...] = (1.0, 2.0, 5.0, 15.0, 60.0, 300.0)
    poll_interval: float = 60.0


class Store(Protocol):
    """Where a watcher keeps its cursor, its notes and the posts it takes: the daemon's
    `Database` (db/engine.py), or one pass's (ops/bridges.py)."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...

    def read_plain(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def write_plain(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def write(self) -> AbstractContextManager[Session]: ...


def target_of(bridge: BridgeConfig) -> ImapTarget:
    assert bridge.imap is not None
    host, port, tls, mailbox = parse_imap_url(bridge.imap)
    return ImapTarget(host, port, tls, mailbox, bridge.username or "", bridge.password or "")


def watcher_for(
    db: Store,
    node: Callable[[], NodeSettings],
    bridge: BridgeConfig,
    timing: Timing,
    notes: set[asyncio.Task[None]],
    taken: Callable[[int], None] = lambda count: None,
    *,
    states: bool = True,
    clock: Callable[[], float] = time.time,
    signers: Signers | None = None,
) -> ImapWatcher:
    """A watcher whose cursor and deliveries live in `db`; `taken(count)` after each
    batch that queued posts (the daemon wakes its pipeline). Its errors and warnings, and
    with `states` its connection state (the daemon's, not a one-off pass's), are written
    in the background by tasks kept in `notes` (await them before closing). `signers`
    checks a message's DKIM signatures (in a worker thread, before the write)."""
    name = bridge.name

    def load() -> Cursor | None:
        with db.read_plain() as conn:
            return state.cursor(conn, name)

    def store(at: Cursor, batch: list[Fetched], signed: dict[int, tuple[str, ...]]) -> int:
        # here, not at the top: what a post meets on its way in loads the ORM, which one
        # pass (`bridges sync`) loads only when the mailbox has something new
        from listfed.bridges import inbox

        with db.write() as s:
            return inbox.take(s, node(), bridge, at, batch, clock(), signed)

    def check(batch: list[Fetched]) -> dict[int, tuple[str, ...]]:
        """Who signed each of the foreign list's posts (the secretary's own mail costs
        no DNS lookup)."""
        if signers is None or not bridge.takes_in:
            return {}
        return {
            item.uid: signers(item.raw)
            for item in batch
            if foreign.judge(item.raw, bridge.foreign, return_path=True).post
        }

    async def load_cursor() -> Cursor | None:
        return await db.run(load)

    async def deliver(at: Cursor, batch: list[Fetched]) -> None:
        signed = await asyncio.to_thread(check, batch)
        count = await db.run(store, at, batch, signed)
        if count:
            log.info("bridge %s: %d post(s) of %s queued", name, count, bridge.foreign)
            taken(count)

    def record(what: str, detail: str) -> None:
        warning = what in WARNINGS
        if not warning and not (states and what in STATES):
            return

        def write() -> None:
            with db.write_plain() as conn:
                now = clock()
                if warning:
                    state.set_error(
                        conn, name, detail if what == "error" else f"{what}: {detail}", now
                    )
                else:
                    state.set_state(conn, name, what, now)

        task = asyncio.get_running_loop().create_task(_quietly(db.run(write)))
        notes.add(task)
        task.add_done_callback(notes.discard)

    return ImapWatcher(
        target_of(bridge),
        load_cursor=load_cursor,
        deliver=deliver,
        timeout=timing.timeout,
        idle_renew=timing.idle_renew,
        backoff=timing.backoff,
        poll_interval=timing.poll_interval,
        on_state=record,
        clock=clock,
    )


async def _quietly(aw: Awaitable[None]) -> None:
    """A state note that cannot be written now (database busy) is not worth a failure."""
    try:
        await aw
    except ListfedError as exc:
        log.debug("bridge state not recorded: %s", exc)


class Watchers:
    """The running IMAP bridges of one node."""

    def __init__(
        self,
        db: Store,
        node: Callable[[], NodeSettings],
        taken: Callable[[int], None],
        timing: Timing | None = None,
        clock: Callable[[], float] = time.time,
        signers: Signers | None = None,
    ) -> None:
        self.db = db
        self.signers = signers
        self.clock = clock
        self.node = node
        self.taken = taken
        self.timing = timing or Timing()
        self._running: dict[str, tuple[BridgeConfig, asyncio.Event, asyncio.Task[None]]] = {}
        self._stopping: set[asyncio.Task[None]] = set()  # told to stop, not yet ended
        self._notes: set[asyncio.Task[None]] = set()

    def apply(self, bridges: Sequence[BridgeConfig]) -> None:
        """Run exactly the IMAP bridges in `bridges` that take posts in; a bridge whose
        settings changed is restarted, an unchanged one left alone."""
        wanted = {b.name: b for b in bridges if b.imap is not None and b.takes_in}
        for name, (config, stop, task) in list(self._running.items()):
            if wanted.get(name) != config:
                stop.set()
                del self._running[name]
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
                log.info("bridge %s: stopping its IMAP watcher", name)
        for name, bridge in wanted.items():
            if name not in self._running:
                stop = asyncio.Event()
                watcher = watcher_for(
                    self.db,
                    self.node,
                    bridge,
                    self.timing,
                    self._notes,
                    self.taken,
                    clock=self.clock,
                    signers=self.signers,
                )
                task = asyncio.get_running_loop().create_task(watcher.run(stop))
                self._running[name] = (bridge, stop, task)
                log.info("bridge %s: watching %s for %s", name, bridge.imap, bridge.foreign)

    async def stop(self, grace: float = 5.0) -> None:
        running, self._running = list(self._running.values()), {}
        for _config, stop, _task in running:
            stop.set()
        tasks = [task for _c, _s, task in running] + list(self._stopping)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)
        if self._notes:
            await asyncio.gather(*self._notes, return_exceptions=True)
