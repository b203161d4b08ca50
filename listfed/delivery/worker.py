"""Draining the outbox: a dispatcher hands batches to a pool of senders.

The dispatcher claims due rows in memory (one process owns the database): a cursor over
outbox ids finds rows not yet tried, and a second query finds rows whose retry fell due.
Rows are grouped per message, `per_transaction` recipients at a time. Each sender owns
one transport (one reused SMTP connection); outcomes are recorded with group commit:
accepted rows are deleted, temporary failures wait for the next retry step, permanent
ones are kept as failed and counted as bounces (`failed`). After a crash every row still
in the outbox is simply due again. With VERP on, each member of a post or digest gets
its own transaction, with its own return path.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from sqlmodel import Session

from listfed.db import stats
from listfed.db.engine import Database, sqlite_of
from listfed.delivery import outcomes
from listfed.delivery.copies import Copies, Letter
from listfed.delivery.transport import SendResult, Transport
from listfed.delivery.unsubscribe import Personal
from listfed.errors import ListfedError
from listfed.groupcommit import GroupCommit
from listfed.verp import verp_address
from listfed.wakeup import first_of

log = logging.getLogger("listfed.delivery")

PAGE = 2000  # rows read per dispatch query
LETTERS_KEPT = 32  # outgoing messages kept in memory for the senders
VERP_KINDS = ("post", "digest")  # what `[delivery] verp = "always"` sends one by one

# (session, outgoing id, address, error, kind): a recipient refused for good
Failed = Callable[[Session, int, str, str, str], None]
# (session, outgoing id, outcome): where a relay went, told to whoever keeps the ledger
Relayed = Callable[[Session, int, str], None]


@dataclass(frozen=True)
class Batch:
    outgoing_id: int
    rows: dict[str, int]  # address -> outbox id


@dataclass(frozen=True)
class Outcome:
    batch: Batch
    result: SendResult
    when: float
    kind: str = "post"


_FRESH = (
    "SELECT id, outgoing_id, address FROM outbox WHERE id > ? AND state = 'pending' "
    "AND next_attempt <= ? ORDER BY id LIMIT ?"
)
# In the order of the partial retry index (next_attempt, then id): ordered by id alone,
# SQLite walked the whole outbox for it, every page, a million rows for a million members.
_RETRIES = (
    "SELECT id, outgoing_id, address FROM outbox WHERE attempts > 0 AND state = 'pending' "
    "AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?"
)
_NEXT = (
    "SELECT MIN(next_attempt) FROM outbox WHERE attempts > 0 AND state = 'pending' "
    "AND next_attempt > ?"
)
_LETTER = "SELECT envelope_from, data, message_id, kind, list_id FROM outgoing WHERE id = ?"


def _letter_of(conn: sqlite3.Connection, outgoing_id: int) -> Letter | None:
    row = conn.execute(_LETTER, (outgoing_id,)).fetchone()
    return Letter(row[0], row[1], row[2], row[3], row[4]) if row else None


_FAILED = "UPDATE outbox SET state = 'failed', last_error = ?, attempts = attempts + 1 WHERE id = ?"
_GONE = (
    "DELETE FROM outgoing WHERE id = ? AND NOT EXISTS (SELECT 1 FROM outbox WHERE outgoing_id = ?)"
)


def _relay_outcome(outcome: Outcome) -> str:
    """A relay has one recipient: its outcome, in the words of the relay ledger."""
    result = outcome.result
    if result.accepted:
        said = "sent"
    elif result.permanent:
        said = "failed: " + next(iter(result.permanent.values()))
    else:
        said = "retrying: " + next(iter(result.temporary.values()), "")
    return said


class Deliverer:
    def __init__(
        self,
        db: Database,
        transports: list[Transport],
        retry: tuple[float, ...],
        per_transaction: int = 100,
        clock: Callable[[], float] = time.time,
        failed: Failed | None = None,
        verp: Callable[[], bool] = lambda: False,
        sign: Callable[[Letter], bytes] | None = None,
        relayed: Relayed | None = None,
        personal: Personal | None = None,
        seal: Callable[[Letter], bytes] | None = None,
        sign_each: Callable[[Letter, list[bytes]], list[bytes]] | None = None,
    ) -> None:
        self.db = db
        self.personal = personal  # one-click unsubscribe: each member's own header fields
        self.copies = Copies(sign, seal, sign_each)
        self.failed = failed
        self.relayed = relayed
        self.verp = verp
        self.transports = transports
        self.retry = retry
        self.per_transaction = per_transaction
        self.clock = clock
        self.wake = asyncio.Event()
        self._cursor = 0  # every row with a higher id has never been handed out
        self._inflight: set[int] = set()
        self._batches: asyncio.Queue[Batch] = asyncio.Queue(maxsize=len(transports) * 2)
        self._data: OrderedDict[int, Letter] = OrderedDict()
        self._recorder: GroupCommit[Outcome, None] = GroupCommit(db, self._record_all)
        self._finishing: set[asyncio.Task[None]] = set()
        # Cleared while outcomes cannot be recorded (a full disk): nothing more is sent,
        # and what was sent stays in flight until its outcome is written, never re-sent.
        self._recording = asyncio.Event()
        self._recording.set()
        self._stop = asyncio.Event()
        self._recorded_at = 0.0  # when an outcome was last written

    # -- database side (runs on the database thread) --------------------------------------

    def _due(
        self, now: float, cursor: int, known: frozenset[int] = frozenset()
    ) -> tuple[list[tuple[int, int, str]], bool, float | None, dict[int, Letter]]:
        """Rows never tried past the cursor, then rows whose retry is due; is there more?
        And the letters of those rows not `known` already, read in the same call (a
        round trip to the database thread per post saved)."""
        with self.db.read_plain() as conn:
            fresh = conn.execute(_FRESH, (cursor, now, PAGE)).fetchall()
            again = conn.execute(_RETRIES, (now, PAGE)).fetchall()
            (later,) = conn.execute(_NEXT, (now,)).fetchone()
            rows = [(r[0], r[1], r[2]) for r in [*fresh, *again]]
            wanted = list(dict.fromkeys(o for _r, o, _a in rows if o not in known))
            letters = {}
            for outgoing_id in wanted[:LETTERS_KEPT]:  # no more than the cache keeps
                letter = _letter_of(conn, outgoing_id)
                if letter is not None:
                    letters[outgoing_id] = letter
        return rows, len(fresh) >= PAGE, later, letters

    def _load(self, outgoing_id: int) -> Letter | None:
        with self.db.read_plain() as conn:
            return _letter_of(conn, outgoing_id)

    def _record_all(self, outcomes: list[Outcome]) -> list[None]:
        """Outcomes in one transaction: plain statements, and a Session only when a hook
        (a refused recipient's bounce, a relay's ledger row) needs one."""
        if any(self._hooked(outcome) for outcome in outcomes):
            with self.db.write() as s:
                for outcome in outcomes:
                    self._record(sqlite_of(s), outcome, s)
        else:
            with self.db.write_plain() as conn:
                for outcome in outcomes:
                    self._record(conn, outcome, None)
        return [None] * len(outcomes)

    def _hooked(self, outcome: Outcome) -> bool:
        refused = self.failed is not None and outcome.result.refused
        return bool(refused) or (outcome.kind == "relay" and self.relayed is not None)

    def _record(self, conn: sqlite3.Connection, outcome: Outcome, s: Session | None) -> None:
        batch, result = outcome.batch, outcome.result
        done = [batch.rows[a] for a in result.accepted if a in batch.rows]
        for start in range(0, len(done), 500):  # a few statements per batch, not one a row
            ids = tuple(done[start : start + 500])
            marks = ",".join("?" * len(ids))  # only placeholders are built here
            conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)  # noqa: S608
        for address, error in result.temporary.items():
            self._retry_later(conn, batch.rows[address], error, outcome.when)
        for address, error in result.permanent.items():
            conn.execute(_FAILED, (error[:500], batch.rows[address]))
            if self.failed is not None and address in result.refused:
                assert s is not None  # _record_all saw the hook coming
                self.failed(s, batch.outgoing_id, address, error, outcome.kind)
        if outcome.kind == "relay" and self.relayed is not None:
            assert s is not None
            self.relayed(s, batch.outgoing_id, _relay_outcome(outcome))
        stats.add(conn, outcomes.tally(result, outcome.when))  # `listfed report`
        conn.execute(_GONE, (batch.outgoing_id, batch.outgoing_id))

    def _retry_later(self, conn: sqlite3.Connection, row_id: int, error: str, now: float) -> None:
        (attempts,) = conn.execute("SELECT attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()
        attempts += 1
        if attempts > len(self.retry):
            conn.execute(
                "UPDATE outbox SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?",
                (attempts, f"gave up after {attempts} attempts: {error}"[:500], row_id),
            )
        else:
            conn.execute(
                "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?",
                (attempts, now + self.retry[attempts - 1], error[:500], row_id),
            )

    # -- event loop side -------------------------------------------------------------------

    async def _dispatch_once(self, stop: asyncio.Event) -> tuple[bool, float | None]:
        """Hand out due rows not in flight; (more may be due now, when a retry falls due)."""
        if not self._inflight:
            self._cursor = 0  # nothing is out: a full scan finds rows an admin re-queued
        known = frozenset(self._data)
        rows, more, later, letters = await self.db.run(self._due, self.clock(), self._cursor, known)
        for outgoing_id, letter in letters.items():
            self._keep(outgoing_id, letter)
        fresh: dict[int, dict[str, int]] = {}
        for row_id, outgoing_id, address in rows:
            if row_id not in self._inflight:
                fresh.setdefault(outgoing_id, {})[address] = row_id
        for outgoing_id, by_address in fresh.items():
            items = list(by_address.items())
            for start in range(0, len(items), self.per_transaction):
                if stop.is_set():
                    return False, later
                chunk = dict(items[start : start + self.per_transaction])
                self._inflight.update(chunk.values())
                self._cursor = max(self._cursor, *chunk.values())
                await self._batches.put(Batch(outgoing_id, chunk))
        return more, later

    def _unqueue(self) -> None:
        """On stop, batches not yet taken by a sender stay in the outbox for next time."""
        while not self._batches.empty():
            batch = self._batches.get_nowait()
            self._inflight.difference_update(batch.rows.values())
            self._batches.task_done()

    async def _letter(self, outgoing_id: int) -> Letter | None:
        if outgoing_id not in self._data:
            loaded = await self.db.run(self._load, outgoing_id)
            if loaded is None:
                return None
            self._keep(outgoing_id, loaded)
        return self._data[outgoing_id]

    def _keep(self, outgoing_id: int, letter: Letter) -> None:
        self._data[outgoing_id] = letter
        while len(self._data) > LETTERS_KEPT:
            self._data.popitem(last=False)

    async def _sender(self, transport: Transport) -> None:
        while True:
            batch = await self._batches.get()
            await first_of(self._recording, self._stop, timeout=None)
            if not self._recording.is_set():  # stopping while paused: left for next time
                self._release(batch)
                continue
            try:
                letter = await self._letter(batch.outgoing_id)
                if letter is None:
                    self._release(batch)
                    continue
                result = await self._send(transport, letter, list(batch.rows), batch.outgoing_id)
            except Exception:
                log.exception("delivery batch of outgoing %s failed", batch.outgoing_id)
                self._release(batch)
                continue
            # Recording runs beside the next transaction; the rows stay in flight (not
            # handed out again) until their outcome is committed.
            task = asyncio.create_task(self._finish(batch, letter, result))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

    async def _send(
        self, transport: Transport, letter: Letter, to: list[str], outgoing_id: int
    ) -> SendResult:
        verp = letter.kind in VERP_KINDS and self.verp()
        heads: dict[str, bytes] = {}
        personal = self.personal  # possible(): else no database call for nothing
        is_post = letter.kind == "post" and letter.list_id is not None
        if is_post and personal is not None and personal.possible():
            assert letter.list_id is not None
            heads = await self.db.run(personal, letter.list_id, to)
        if not verp and not heads:
            return await transport.send(
                letter.envelope_from, to, await self.copies.shared(outgoing_id, letter)
            )

        def sender(address: str) -> str:
            return verp_address(letter.envelope_from, address) if verp else letter.envelope_from

        merged = SendResult()  # copies that differ: a transaction each
        plain = [a for a in to if a not in heads]  # VERP alone, or members no more
        if plain:
            shared = await self.copies.shared(outgoing_id, letter)
            merged.merge(await transport.send_each([(sender(a), a, shared) for a in plain]))
        unsent = dict.fromkeys(heads)
        try:
            async with aclosing(self.copies.each(outgoing_id, letter, heads)) as parts:
                async for part in parts:
                    copies = [(sender(a), a, data) for a, data in part]
                    merged.merge(await transport.send_each(copies))
                    for address, _data in part:
                        del unsent[address]
        except Exception as exc:  # copies not made: the ones sent are not sent again
            log.exception("<%s> d%s: copies not made", letter.message_id, outgoing_id)
            merged.all_failed(list(unsent), f"copies not made: {exc}"[:300], permanent=False)
        return merged

    async def _finish(self, batch: Batch, letter: Letter, result: SendResult) -> None:
        """Record the batch's outcome. If the store fails, delivery pauses (said once)
        and the outcome is tried again, backing off to 30 s, until it is written: the
        rows stay in flight meanwhile, so nothing delivered is sent again. Only a stop
        before that leaves them to be sent again at the next start."""
        outcome = Outcome(batch, result, self.clock(), letter.kind)
        pause, failed_at, tries = 0.5, 0.0, 0
        try:
            while True:
                try:
                    await self._recorder.submit(outcome)
                    self._recorded_at = self.clock()
                    break
                except Exception as exc:
                    failed_at, tries = failed_at or self.clock(), tries + 1
                    if tries >= 3 and (self._recorded_at > failed_at or await self._writable()):
                        # the store takes other writes: this outcome is the problem
                        log.exception(
                            "<%s> d%s: this outcome cannot be recorded (others can): "
                            "its %d copies will be sent again",
                            letter.message_id,
                            batch.outgoing_id,
                            len(batch.rows),
                        )
                        self._recording.set()  # the store works: delivery goes on
                        return
                    self._paused(letter, batch, exc)
                    if self._stop.is_set():
                        log.error(
                            "<%s> d%s: stopping with the outcome of %d copies unrecorded: "
                            "they will be sent again at the next start",
                            letter.message_id,
                            batch.outgoing_id,
                            len(batch.rows),
                        )
                        return
                    await first_of(self._stop, timeout=pause)
                    pause = min(pause * 2, 30.0)
            if not self._recording.is_set():
                self._recording.set()
                log.warning("delivery outcomes are recorded again: delivery resumes")
            self._log(batch, letter, result)
        finally:
            self._release(batch)

    async def _writable(self) -> bool:
        """Does the database take a write now (a small one, that needs a page)?"""

        def probe() -> None:
            with self.db.write_plain() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', ?)",
                    (str(self.clock()),),
                )

        try:
            await self.db.run(probe)
        except Exception:  # any failure means: not now
            return False
        return True

    def _paused(self, letter: Letter, batch: Batch, exc: Exception) -> None:
        if not self._recording.is_set():
            return  # said already
        self._recording.clear()
        log.error(
            "<%s> d%s: delivery outcome not recorded (%s): delivery pauses until the "
            "database takes writes again; nothing is sent twice meanwhile",
            letter.message_id,
            batch.outgoing_id,
            str(exc)[:300] or type(exc).__name__,
        )

    def _release(self, batch: Batch) -> None:
        self._inflight.difference_update(batch.rows.values())
        self._batches.task_done()

    def _log(self, batch: Batch, letter: Letter, result: SendResult) -> None:
        log.info(
            "<%s> d%s: %d accepted, %d deferred, %d failed",
            letter.message_id,
            batch.outgoing_id,
            len(result.accepted),
            len(result.temporary),
            len(result.permanent),
        )
        for address, error in result.permanent.items():
            log.warning(
                "<%s> d%s to %s failed: %s", letter.message_id, batch.outgoing_id, address, error
            )

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Deliver until `stop` is set; then finish only the batches being sent."""
        senders = [asyncio.create_task(self._sender(t)) for t in self.transports]
        self._stop = stop
        try:
            while not stop.is_set():
                self.wake.clear()
                try:
                    more, later = await self._dispatch_once(stop)
                except ListfedError as exc:  # the database is busy or broken: try again
                    log.error("cannot read the outbox: %s", exc)
                    more, later = False, None
                if more:
                    continue
                timeout = poll if later is None else max(0.0, min(poll, later - self.clock()))
                await first_of(self.wake, stop, timeout=timeout)
            self._unqueue()
            await self._batches.join()
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            for t in self.transports:
                await t.close()
