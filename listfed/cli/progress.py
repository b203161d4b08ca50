"""A one-line progress meter on stderr for long commands (import, reindex): redrawn in
place on a terminal, silent otherwise (logs and pipes get the final summary only)."""

from __future__ import annotations

import time
from typing import Any, TextIO


class Meter:
    def __init__(self, out: TextIO, every: float = 0.2) -> None:
        self.out = out
        self.tty = out.isatty()
        self.start = time.monotonic()
        self.every = every
        self._last = 0.0
        self._drawn = False

    def count(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if not self.tty or now - self._last < self.every:
            return
        self._last = now
        rate = done / max(now - self.start, 1e-6)
        self.out.write(f"\r{done:,} messages ({rate:,.0f}/s){extra}\033[K")
        self.out.flush()
        self._drawn = True

    def update(self, report: Any) -> None:
        """For an import's progress report (read, added, present, damaged)."""
        self.count(
            report.read,
            f": {report.added:,} added, {report.present:,} already there, "
            f"{len(report.damaged):,} damaged",
        )

    def done(self) -> None:
        if self._drawn:
            self.out.write("\r\033[K")
            self.out.flush()
