"""`archive import`: an mbox into a list's archive, resumable and safe to run again.

Reading the file, parsing and compressing happen in worker processes (parsing is most of
the cost, and a machine has more than one core); this process only writes, a batch per
transaction, so an interrupted import keeps what it committed and a second run adds only
what is missing (by Message-ID; a message without one gets an id derived from its bytes).
Damaged entries are reported and skipped; they never stop the import. Messages are packed
with the archive's compression dictionary (archive/zdict.py); an archive without one gets
one after the first batch, from what that batch brought.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from listfed.archive import record, zdict
from listfed.archive.mbox import Entry, read_mbox
from listfed.db.plain import transaction

BATCH = 1000  # messages per transaction (and per index fill)
_LEARN_BATCHES = 3  # read in this process at most while the archive has no dictionary
PARALLEL_ABOVE = 2 * 1024 * 1024  # bytes of mbox; smaller files are read in-process
SEEN = 200_000  # (stem, word) pairs an import remembers having stored (about 30 MB)

Job = list[tuple[int, bytes, float | None]]  # number, raw, envelope date


@dataclass
class ImportReport:
    read: int = 0
    added: int = 0
    present: int = 0  # archived already (same Message-ID on this list)
    damaged: list[tuple[int, str]] = field(default_factory=list)  # entry number, why


Progress = Callable[[ImportReport], None]
_IGNORE_INTERRUPT = (signal.SIGINT, signal.SIG_IGN)


def _prepare(node: str, job: Job, packing: bytes | None) -> list[record.Prepared]:
    return [record.prepare(raw, node, fallback_date=date, zdict=packing) for _n, raw, date in job]


class _Packing:
    """The dictionary jobs are packed with: the archive's, else one made once the first
    batch is in (the batches before it are packed without)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.data = zdict.current(conn)

    def after_batch(self) -> None:
        if self.data is not None:
            return
        with transaction(self.conn, "BEGIN IMMEDIATE", "write"):
            self.data = zdict.current(self.conn) or zdict.make(self.conn)


def _jobs(entries: Iterable[Entry], report: ImportReport) -> Iterator[Job]:
    job: Job = []
    for entry in entries:
        report.read += 1
        if entry.error:
            report.damaged.append((entry.number, entry.error))
            continue
        job.append((entry.number, entry.raw, entry.envelope_date))
        if len(job) >= BATCH:
            yield job
            job = []
    if job:
        yield job


_FTS_COLUMNS = "subject, sender, sender_name, body_text, attachments"
_FILL_INDEXES = tuple(
    f"INSERT INTO {index}(rowid, {_FTS_COLUMNS}) "  # noqa: S608
    f"SELECT id, {_FTS_COLUMNS} FROM archive_text WHERE id > ?"  # the text unpacked (v19)
    for index in ("archive_fts",)  # the words (schema v5, v19; their stems: archive/stemvocab)
)


def _write(
    conn: sqlite3.Connection,
    list_id: int,
    items: list[record.Prepared],
    report: ImportReport,
    seen: set[tuple[str, str]],
) -> None:
    """One batch, one transaction. The indexes are filled once for the whole batch (the
    row-by-row triggers stand aside while the meta key is set, in this transaction only).
    `seen`: the words of a stem that earlier batches of this import stored already (their
    rows are not looked up again: most words of a list come back in every batch)."""
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO meta (key, value) VALUES ('archive_fts_batch', '1')")
        (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM archive").fetchone()
        for whole in items:
            item = dataclasses.replace(whole, stems=tuple(p for p in whole.stems if p not in seen))
            if record.add(conn, list_id, item, now) is None:
                report.present += 1
            else:
                report.added += 1
        for fill in _FILL_INDEXES:
            conn.execute(fill, (before,))
        conn.execute("DELETE FROM meta WHERE key = 'archive_fts_batch'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if len(seen) < SEEN:
        seen.update(p for item in items for p in item.stems)


def import_mbox(
    conn: sqlite3.Connection,
    list_id: int,
    path: Path,
    node: str,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import every readable entry of the mbox at `path` into the list's archive."""
    report = ImportReport()
    jobs = _jobs(read_mbox(path), report)
    packing = _Packing(conn)
    if workers is None:
        big = path.stat().st_size > PARALLEL_ABOVE
        workers = min(2, os.cpu_count() or 1) if big else 0

    seen: set[tuple[str, str]] = set()

    def here(job: Job) -> None:
        _write(conn, list_id, _prepare(node, job, packing.data), report, seen)
        packing.after_batch()
        if progress is not None:
            progress(report)

    if workers <= 0:
        for job in jobs:
            here(job)
        return report
    # Until the archive has a dictionary, batches are read here one at a time: those the
    # workers read ahead would be packed without it (a few batches at most, then none).
    for _ in range(_LEARN_BATCHES):
        if packing.data is not None or (learn := next(jobs, None)) is None:
            break
        here(learn)
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    # Workers ignore Ctrl-C: the interrupt is this process's to handle (what was
    # committed stays; a second run finishes), not a traceback per worker.
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=signal.signal, initargs=_IGNORE_INTERRUPT
    ) as pool:
        pending: deque[Future[list[record.Prepared]]] = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(_prepare, node, job, packing.data))
                if len(pending) > 2 * workers:  # bounded: memory holds a few batches at most
                    _write(conn, list_id, pending.popleft().result(), report, seen)
                    packing.after_batch()
                    if progress is not None:
                        progress(report)
            while pending:
                _write(conn, list_id, pending.popleft().result(), report, seen)
                packing.after_batch()
                if progress is not None:
                    progress(report)
        except BaseException:
            for future in pending:  # nothing more to parse: stop as soon as may be
                future.cancel()
            raise
    return report
