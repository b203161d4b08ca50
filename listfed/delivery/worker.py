"""Draining the outbox: a dispatcher hands batches to a pool of senders.

The dispatcher claims due outbox rows in memory (one process owns the database, so an
in-flight set is enough) and groups them per message, `per_transaction` recipients at a
time. Each sender owns one transport (one reused SMTP connection) and records outcomes:
accepted rows are deleted, temporary failures wait for the next retry step, permanent
ones are kept as failed and noted on the member. After a crash every row still in the
outbox is simply due again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, text, update
from sqlmodel import col, select

from listfed.db.engine import Database
from listfed.db.models import Member, OutboxEntry, Outgoing
from listfed.delivery.transport import SendResult, Transport
from listfed.wakeup import first_of

log = logging.getLogger("listfed.delivery")


@dataclass(frozen=True)
class Letter:
    """One outgoing message as the senders need it."""

    envelope_from: str
    data: bytes
    message_id: str


@dataclass(frozen=True)
class Batch:
    outgoing_id: int
    rows: dict[str, int]  # address -> outbox id


class Deliverer:
    def __init__(
        self,
        db: Database,
        transports: list[Transport],
        retry: tuple[float, ...],
        per_transaction: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.transports = transports
        self.retry = retry
        self.per_transaction = per_transaction
        self.clock = clock
        self.wake = asyncio.Event()
        self._inflight: set[int] = set()
        self._batches: asyncio.Queue[Batch] = asyncio.Queue(maxsize=len(transports) * 2)
        self._data: OrderedDict[int, Letter] = OrderedDict()

    # -- database side (runs on the database thread) --------------------------------------

    def _due(self, now: float, limit: int) -> tuple[list[tuple[int, int, str]], float | None]:
        with self.db.read() as s:
            rows = s.exec(
                select(OutboxEntry.id, OutboxEntry.outgoing_id, OutboxEntry.address)
                .where(OutboxEntry.state == "pending", OutboxEntry.next_attempt <= now)
                .order_by(col(OutboxEntry.outgoing_id), col(OutboxEntry.id))
                .limit(limit)
            ).all()
            later = s.exec(
                select(OutboxEntry.next_attempt)
                .where(OutboxEntry.state == "pending", OutboxEntry.next_attempt > now)
                .order_by(col(OutboxEntry.next_attempt))
                .limit(1)
            ).first()
        return [(r[0] or 0, r[1], r[2]) for r in rows], later

    def _load(self, outgoing_id: int) -> Letter | None:
        with self.db.read() as s:
            row = s.get(Outgoing, outgoing_id)
            return Letter(row.envelope_from, row.data, row.message_id) if row else None

    def _record(self, batch: Batch, result: SendResult, now: float) -> None:
        with self.db.write() as s:
            conn = s.connection()
            done = [batch.rows[a] for a in result.accepted if a in batch.rows]
            if done:
                conn.execute(delete(OutboxEntry).where(col(OutboxEntry.id).in_(done)))
            for address, error in result.temporary.items():
                self._retry_later(conn, batch.rows[address], error, now)
            for address, error in result.permanent.items():
                conn.execute(
                    update(OutboxEntry)
                    .where(col(OutboxEntry.id) == batch.rows[address])
                    .values(
                        state="failed", last_error=error[:500], attempts=OutboxEntry.attempts + 1
                    )
                )
                self._note_failure(conn, batch.outgoing_id, address, error)
            conn.execute(
                text(
                    "DELETE FROM outgoing WHERE id = :o AND NOT EXISTS "
                    "(SELECT 1 FROM outbox WHERE outgoing_id = :o)"
                ),
                {"o": batch.outgoing_id},
            )

    def _retry_later(self, conn: Connection, row_id: int, error: str, now: float) -> None:
        attempts = (
            conn.execute(select(OutboxEntry.attempts).where(OutboxEntry.id == row_id)).scalar_one()
            + 1
        )
        values: dict[str, object]
        if attempts > len(self.retry):
            values = {
                "state": "failed",
                "last_error": f"gave up after {attempts} attempts: {error}"[:500],
            }
        else:
            values = {"next_attempt": now + self.retry[attempts - 1], "last_error": error[:500]}
        conn.execute(
            update(OutboxEntry)
            .where(col(OutboxEntry.id) == row_id)
            .values(attempts=attempts, **values)
        )

    @staticmethod
    def _note_failure(conn: Connection, outgoing_id: int, address: str, error: str) -> None:
        """A permanent failure is recorded on the member (bounce scoring comes later)."""
        list_id = conn.execute(
            select(Outgoing.list_id).where(Outgoing.id == outgoing_id)
        ).scalar_one_or_none()
        if list_id is not None:
            conn.execute(
                update(Member)
                .where(col(Member.list_id) == list_id, col(Member.address) == address.lower())
                .values(last_failure=error[:500])
            )

    # -- event loop side -------------------------------------------------------------------

    async def _dispatch_once(self, stop: asyncio.Event) -> float | None:
        """Queue every due row not yet in flight; returns when the next retry falls due."""
        now = self.clock()
        rows, later = await self.db.run(self._due, now, 2000 + len(self._inflight))
        fresh: dict[int, dict[str, int]] = {}
        for row_id, outgoing_id, address in rows:
            if row_id not in self._inflight:
                fresh.setdefault(outgoing_id, {})[address] = row_id
        for outgoing_id, by_address in fresh.items():
            items = list(by_address.items())
            for start in range(0, len(items), self.per_transaction):
                if stop.is_set():
                    return later
                chunk = dict(items[start : start + self.per_transaction])
                self._inflight.update(chunk.values())
                await self._batches.put(Batch(outgoing_id, chunk))
        return later

    def _unqueue(self) -> None:
        """On stop, batches not yet taken by a sender stay in the outbox for next time."""
        while not self._batches.empty():
            batch = self._batches.get_nowait()
            self._inflight.difference_update(batch.rows.values())
            self._batches.task_done()

    async def _message(self, outgoing_id: int) -> Letter | None:
        if outgoing_id not in self._data:
            loaded = await self.db.run(self._load, outgoing_id)
            if loaded is None:
                return None
            self._data[outgoing_id] = loaded
            while len(self._data) > 32:
                self._data.popitem(last=False)
        return self._data[outgoing_id]

    async def _sender(self, transport: Transport) -> None:
        while True:
            batch = await self._batches.get()
            try:
                letter = await self._message(batch.outgoing_id)
                if letter is not None:
                    result = await transport.send(
                        letter.envelope_from, list(batch.rows), letter.data
                    )
                    await self.db.run(self._record, batch, result, self.clock())
                    self._log(batch, letter, result)
            except Exception:
                log.exception("delivery batch of outgoing %s failed", batch.outgoing_id)
            finally:
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
        try:
            while not stop.is_set():
                self.wake.clear()
                later = await self._dispatch_once(stop)
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
