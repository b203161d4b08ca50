"""Copying the write-ahead log into the database file, beside the commits, not in them.

By default SQLite does this inside whichever commit takes the log past 1,000 pages: that
commit then also copies the log's pages into the file and syncs it, and an SMTP client
waits for its `250` meanwhile (tens of milliseconds while the web face's readers keep
the page cache busy). The daemon turns that off for its own connections
(`Database(..., checkpoints=False)`) and runs `Checkpointer` instead: a PASSIVE
checkpoint every second on a connection of its own, in a thread of its own. A PASSIVE
checkpoint takes no lock a writer or a reader needs; it copies what no reader still
needs, and the next write starts the log from its beginning once all of it is copied.
Other processes (the command line, the web face's few writes) keep SQLite's default,
and the last connection to close checkpoints whatever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

from listfed.wakeup import first_of

log = logging.getLogger("listfed.db")

INTERVAL = 1.0  # seconds between checkpoints: the log holds about a second of writes


def checkpoint(path: Path, busy_timeout: float) -> tuple[int, int]:
    """One PASSIVE checkpoint: (pages in the log, pages of it now in the file)."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")  # the file is synced once the pages are in
        _busy, in_log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(in_log), int(copied)
    finally:
        conn.close()


class Checkpointer:
    """The daemon's checkpoints, every `interval` seconds until `stop`."""

    def __init__(self, path: Path, busy_timeout: float, interval: float = INTERVAL) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.interval = interval
        self.failing = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await first_of(stop, timeout=self.interval)
            try:
                await asyncio.to_thread(checkpoint, self.path, self.busy_timeout)
            except sqlite3.Error as exc:  # said once, until a checkpoint succeeds again
                if not self.failing:
                    log.error("checkpoint of the write-ahead log failed: %s", exc)
                self.failing = True
            else:
                self.failing = False
        with contextlib.suppress(sqlite3.Error):  # the last one, at the stop
            await asyncio.to_thread(checkpoint, self.path, self.busy_timeout)
