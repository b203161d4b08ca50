"""The daemon's own clock work, so that no cron is needed: digests whose period has run
out are sent, bounce scores that went quiet are reset, held posts past their expiry are
dropped; spent tokens, reply counts and old bridge fingerprints are forgotten. One pass
a minute, or sooner when a digest falls due. After each pass, the archive's search
indexes are merged into fewer segments (archive/ftsmerge), a short write transaction a
step, so that intake, which goes first on the database thread, never waits long. Once a
day the words of each English stem (archive/stemvocab) are checked against the index's
own: read on a thread of their own, what is missing added in one short transaction.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from listfed import tokens
from listfed.archive import ftsmerge, opendb, stemvocab
from listfed.bounces import score
from listfed.bridges import echoes
from listfed.context import NodeSettings
from listfed.db import stats
from listfed.db.engine import Database, sqlite_of
from listfed.digests import collect
from listfed.errors import ListfedError
from listfed.moderation import expire as held
from listfed.notices import replies
from listfed.wakeup import first_of

log = logging.getLogger("listfed.housekeeping")

MERGE_STEPS = 1_000  # merge steps after a pass at most (16,000 index pages, about 64 MB)
STEMS_EVERY = 86_400.0  # seconds between checks of stem_vocab (about 1 s at 100,000 posts)
STEMS_FIRST = 600.0  # seconds after start for the first check


class Housekeeper:
    def __init__(
        self,
        db: Database,
        node: Callable[[], NodeSettings],
        delivered: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.node = node
        self.delivered = delivered  # wakes the delivery worker
        self.clock = clock
        self.wake = asyncio.Event()
        # the first check ten minutes after start (a daemon restarted every day checks too)
        self.stems_checked = clock() - STEMS_EVERY + STEMS_FIRST

    def pass_once(self) -> float | None:
        """One pass (on the database thread); when the next digest falls due."""
        now = self.clock()
        with self.db.write() as s:
            ready, later = collect.due(s, now)
            sent = sum(collect.send(s, lst, now) for lst in ready)
            score.decay(s, now, self.node().members.bounce_reset_after)
            expired = held.expire(s, self.node(), now)
            tokens.purge(s, now)
            replies.purge(s, now)
            echoes.purge(s, now)
            stats.prune(sqlite_of(s), now)
        if sent or expired:
            self.delivered()
        return later

    async def run(self, stop: asyncio.Event, poll: float = 60.0) -> None:
        while not stop.is_set():
            self.wake.clear()
            try:
                later = await self.db.run(self.pass_once)
            except ListfedError as exc:  # the database is busy: the next pass will do it
                log.error("housekeeping pass failed: %s", exc)
                later = None
            except Exception:  # a bug must not end digests and decay until a restart
                log.exception("housekeeping pass failed")
                later = None
            await self.merge(stop)
            if self.clock() - self.stems_checked >= STEMS_EVERY:
                self.stems_checked = self.clock()
                await self.check_stems()
            timeout = poll if later is None else max(1.0, min(poll, later - self.clock()))
            await first_of(self.wake, stop, timeout=timeout)

    async def merge(self, stop: asyncio.Event, most: int = MERGE_STEPS) -> int:
        """Merge the search indexes' segments, one step a write transaction, until there
        is nothing to merge, `most` steps were taken or the daemon stops; the steps taken."""
        steps = 0
        try:
            for table in await self.db.run(self._fts_tables):
                while steps < most and not stop.is_set():
                    steps += 1
                    if not await self.db.run(self._merge_step, table):
                        break
        except ListfedError as exc:  # busy: the next pass goes on where this one stopped
            log.error("merging the search index failed: %s", exc)
        except Exception:  # a bug must not end housekeeping until a restart
            log.exception("merging the search index failed")
        return steps

    async def check_stems(self) -> int:
        """Add to stem_vocab what the index holds and it lacks; how many pairs. The index is
        read on a thread and a read-only connection of its own (the database thread goes on
        with intake meanwhile); the pairs are added in one short write transaction."""
        try:
            found = await asyncio.to_thread(self._missing_stems)
            if found:
                await self.db.run(self._add_stems, found)
                log.info("stem_vocab: %d pair(s) added from the index", len(found))
            return len(found)
        except (ListfedError, sqlite3.Error) as exc:  # busy: tomorrow's check
            log.error("checking the words of each stem failed: %s", exc)
        except Exception:  # a bug must not end housekeeping until a restart
            log.exception("checking the words of each stem failed")
        return 0

    def _missing_stems(self) -> list[tuple[str, str]]:
        conn = opendb.connect(self.db.path, self.db.busy_timeout, readonly=True, mapped=False)
        try:
            return stemvocab.missing(conn)
        finally:
            conn.close()

    def _add_stems(self, found: list[tuple[str, str]]) -> None:
        with self.db.write_plain() as conn:
            stemvocab.add(conn, found)

    def _fts_tables(self) -> list[str]:
        with self.db.write_plain() as conn:
            found = ftsmerge.tables(conn)
            for table in found:
                ftsmerge.prepare(conn, table)
        return found

    def _merge_step(self, table: str) -> bool:
        with self.db.write_plain() as conn:
            return ftsmerge.step(conn, table)
