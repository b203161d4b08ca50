"""Counts taken on the event loop (intake's replies) and written to the database now and
then (db/stats.py), never one write per event. If a write fails (a full disk), the
counts wait for the next one; at most FLUSH_EVERY seconds of them are lost to a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from listfed.db import stats
from listfed.db.engine import Database, sqlite_of
from listfed.errors import ListfedError
from listfed.wakeup import first_of

log = logging.getLogger("listfed.metrics")

FLUSH_EVERY = 2.0  # seconds; one small write when anything was counted


class Tally:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.counts: Counter[tuple[int, stats.Key]] = Counter()

    def add(self, name: str, a: str, b: str = "", c: str = "", n: int = 1) -> None:
        self.counts[(stats.day_of(self.clock()), (name, a, b, c))] += n

    def _write(self, db: Database, counts: Counter[tuple[int, stats.Key]]) -> None:
        with db.write() as s:
            stats.add(sqlite_of(s), counts)

    async def flush(self, db: Database) -> bool:
        counts, self.counts = self.counts, Counter()
        if not counts:
            return True
        try:
            await db.run(self._write, db, counts)
        except ListfedError as exc:
            self.counts.update(counts)  # kept for the next flush
            log.warning("counts not written (kept for later): %s", exc)
            return False
        return True

    async def run(self, db: Database, stop: asyncio.Event, every: float = FLUSH_EVERY) -> None:
        """Write the counts every `every` seconds, and once more when stopping."""
        while not stop.is_set():
            await first_of(stop, timeout=every)
            await self.flush(db)
