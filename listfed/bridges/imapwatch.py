"""The IMAP bridge's mailbox watcher: take every new message of one mailbox exactly once.

The cursor (UIDVALIDITY, last UID taken) belongs to the caller, who stores it with the
posts in one transaction: each pass starts from `load_cursor()`, and a batch counts as
taken only once `deliver(new_cursor, batch)` has returned. So a failed delivery is
retried from the stored cursor (nothing skipped; the caller's Message-ID check absorbs a
second delivery), and a new UIDVALIDITY means the mailbox is taken again from UID 1.

The first pass without a stored cursor steps over what arrived in the mailbox before
`history_days` (default: since yesterday), so that a mailbox with years of the foreign
list does not post them all. After a pass that took mail it looks again at once (an
EXISTS announced inside a command is lost in aioimaplib).

Between passes the watcher waits in IDLE (renewed before `idle_renew`), or polls when the
server has no IDLE; on any connection error it reconnects after the next `backoff` delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from listfed.bridges.imapconn import (
    Fetched,
    ImapConnection,
    ImapError,
    ImapTarget,
    connect,
    parse_imap_url,
)

__all__ = ["Batch", "Cursor", "Fetched", "ImapTarget", "ImapWatcher", "parse_imap_url", "plan"]

log = logging.getLogger("listfed.bridges")

MAX_MESSAGE = 64 * 1024 * 1024  # bigger ones are reported and left in the mailbox
BATCH_COUNT = 50
BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Cursor:
    uidvalidity: int
    last_uid: int


@dataclass
class Batch:
    """Messages to fetch and deliver together; `last_uid` is the cursor after them (it
    also covers skipped ones and ones expunged meanwhile)."""

    last_uid: int
    uids: list[int] = field(default_factory=list)
    nbytes: int = 0
    skipped: list[tuple[int, int]] = field(default_factory=list)  # (uid, size)


def plan(
    uids: Sequence[int],
    sizes: dict[int, int],
    *,
    count: int = BATCH_COUNT,
    nbytes: int = BATCH_BYTES,
    max_message: int = MAX_MESSAGE,
) -> list[Batch]:
    """Cut UIDs (in order) into batches of at most `count` messages and about `nbytes`
    (one big message alone may pass it). UIDs without a size are gone: stepped over."""
    batches: list[Batch] = []
    current: Batch | None = None
    for uid in uids:
        size = sizes.get(uid)
        full = current is not None and (
            len(current.uids) >= count
            or (size is not None and current.uids and current.nbytes + size > nbytes)
        )
        if current is None or full:
            current = Batch(uid)
            batches.append(current)
        current.last_uid = uid
        if size is None:
            continue
        if size > max_message:
            current.skipped.append((uid, size))
        else:
            current.uids.append(uid)
            current.nbytes += size
    return batches


class ImapWatcher:
    """Watches one mailbox; `run()` in a task, or `sync_once()` for one pass (then
    `close()`). Not both at once: they share the connection."""

    def __init__(
        self,
        target: ImapTarget,
        *,
        load_cursor: Callable[[], Awaitable[Cursor | None]],
        deliver: Callable[[Cursor, list[Fetched]], Awaitable[None]],
        timeout: float = 30.0,
        idle_renew: float = 25 * 60,
        backoff: Sequence[float] = (1, 2, 5, 15, 60),
        poll_interval: float = 60.0,
        on_state: Callable[[str, str], None] | None = None,
        max_message: int = MAX_MESSAGE,
        history_days: int | None = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not backoff or min(backoff) < 0:
            raise ValueError("backoff needs at least one delay, none negative")
        self.target = target
        self._load_cursor = load_cursor
        self._deliver = deliver
        self._timeout = timeout
        self._idle_renew = idle_renew
        self._backoff = tuple(backoff)
        self._poll_interval = poll_interval
        self._on_state = on_state
        self._max_message = max_message
        self._history_days = history_days
        self._clock = clock
        self._conn: ImapConnection | None = None
        self.state = "disconnected"

    async def sync_once(self) -> int:
        """Connect if needed and deliver everything new; returns how many messages.
        Raises ImapError (and drops the connection), and what `deliver`/`load_cursor` raise."""
        try:
            return await self._take(await self._connection())
        except ImapError:
            await self._disconnect(logout=False)
            raise

    async def _take(self, conn: ImapConnection) -> int:
        stored = await self._load_cursor()
        cursor = Cursor(conn.uidvalidity, 0)
        if stored is not None and stored.uidvalidity == conn.uidvalidity:
            cursor = stored
        elif stored is not None:
            self._report(
                "uidvalidity changed",
                f"{stored.uidvalidity} -> {conn.uidvalidity}: taking the mailbox again from UID 1",
            )
        delivered = 0
        uids = await conn.new_uids(cursor.last_uid)
        history = await self._history(conn, uids) if stored is None and uids else []
        if history:
            stepped = set(history)
            uids = [u for u in uids if u not in stepped]
        for start in range(0, len(uids), BATCH_COUNT):
            window = uids[start : start + BATCH_COUNT]
            sizes = await conn.sizes(window)
            for batch in plan(window, sizes, max_message=self._max_message):
                for uid, size in batch.skipped:
                    self._report("skipped", f"UID {uid}: {size} bytes, over {self._max_message}")
                messages = await conn.fetch(batch.uids, batch.nbytes) if batch.uids else []
                for uid in sorted(set(batch.uids) - {m.uid for m in messages}):
                    self._report("skipped", f"UID {uid}: no body in the FETCH answer (expunged?)")
                cursor = Cursor(conn.uidvalidity, batch.last_uid)
                # an empty batch still moves the cursor (past skipped messages)
                await self._deliver(cursor, messages)
                delivered += len(messages)
        if history and cursor.last_uid < max(history):
            cursor = Cursor(conn.uidvalidity, max(history))
            await self._deliver(cursor, [])  # past the history, once
        elif cursor != stored and not uids:
            await self._deliver(cursor, [])  # record a new UIDVALIDITY, once
        return delivered

    async def _history(self, conn: ImapConnection, uids: list[int]) -> list[int]:
        """On a new bridge's first pass, the messages that were in the mailbox before
        the last `history_days` days: they are stepped over, not posted (a secretary's
        own mailbox may hold years of the foreign list)."""
        if self._history_days is None:
            return []
        day = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC).date()
        since = day - datetime.timedelta(days=self._history_days)
        recent = set(await conn.new_uids(0, since=since))
        old = [u for u in uids if u not in recent]
        if old:
            self._report(
                "history",
                f"{len(old)} message(s) that arrived before {since.isoformat()} stepped over:"
                " a new bridge takes only recent mail",
            )
        return old

    async def run(self, stop: asyncio.Event) -> None:
        """Sync and wait for news until `stop` is set; errors are reported through
        on_state and retried after a backoff delay. Only CancelledError leaves early."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    # Mail that came during a pass may have been announced inside one of
                    # its commands, where aioimaplib drops the EXISTS: IDLE would not
                    # hear of it. So look again until a pass finds nothing new.
                    while await self.sync_once() and not stop.is_set():
                        pass
                    failures = 0
                    if not stop.is_set():
                        await self._wait(stop)
                except Exception as exc:
                    log.debug("IMAP bridge %s failed", self.target.host, exc_info=True)
                    self._report("error", str(exc) or type(exc).__name__)
                    # after a failed delivery the connection is fine: say goodbye properly
                    await self._disconnect(logout=not isinstance(exc, ImapError))
                    delay = self._backoff[min(failures, len(self._backoff) - 1)]
                    failures += 1
                    await _sleep_unless(stop, delay)
        finally:
            await self._disconnect()

    async def close(self) -> None:
        """Log out and drop the connection (after `sync_once`)."""
        await self._disconnect()

    async def _connection(self) -> ImapConnection:
        if self._conn is not None and not self._conn.lost.is_set():
            return self._conn
        await self._disconnect(logout=False)
        t = self.target
        self._conn = await connect(t, self._timeout)
        self._set_state(
            "connected", f"{t.host}:{t.port}/{t.mailbox} UIDVALIDITY {self._conn.uidvalidity}"
        )
        return self._conn

    async def _wait(self, stop: asyncio.Event) -> None:
        conn = self._conn
        if conn is None:  # sync_once leaves it connected; to be safe
            raise ImapError("not connected")
        if conn.can_idle:
            self._set_state("idle")
            await conn.wait_for_news(self._idle_renew, stop)
        else:
            self._set_state("polling", f"every {self._poll_interval:g} s")
            await conn.pause(self._poll_interval, stop)

    async def _disconnect(self, *, logout: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(logout=logout)
            self._set_state("disconnected")

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self._report(state, detail)

    def _report(self, state: str, detail: str) -> None:
        """Tell on_state; events ("error", "skipped", "uidvalidity changed") every time."""
        if state in ("connected", "idle", "polling", "disconnected"):
            self.state = state
        level = (
            logging.WARNING
            if state in ("error", "skipped", "uidvalidity changed")
            else logging.INFO
        )
        log.log(level, "IMAP %s %s: %s %s", self.target.host, self.target.mailbox, state, detail)
        if self._on_state is not None:
            try:
                self._on_state(state, detail)
            except Exception:
                log.exception("on_state callback failed")


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
