"""Log lines that say what a transaction did, emitted only once it committed.

A pipeline pass decides (accept, hold, reject, relay...) and logs as it goes, inside one
write transaction; if the commit then fails (a full disk), those decisions never
happened and the pass runs again later. `withheld` keeps the lines that this thread
logs to the given loggers until `release`, which emits them in order; a failed commit
drops them. Other threads' lines pass as usual.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Withheld(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.thread:
            return True
        self.records.append(record)
        return False

    def release(self) -> None:
        """Emit the kept lines now (the transaction committed)."""
        records, self.records = self.records, []
        for record in records:
            logging.getLogger(record.name).handle(record)


@contextmanager
def withheld(*names: str) -> Iterator[Withheld]:
    keep = Withheld()
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield keep
    finally:
        for logger in loggers:
            logger.removeFilter(keep)
