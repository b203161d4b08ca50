"""The write-ahead log reaches the database file beside the daemon's commits, not in them
(db/checkpoint.py): its commits never copy the log, its Checkpointer does, within a
second or so; other processes keep SQLite's own checkpoints."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

from listfed.db.checkpoint import Checkpointer
from listfed.db.engine import Database

ROWS = 3_000  # ~1,500 pages of 4 KB: past SQLite's automatic checkpoint at 1,000


def fill(db: Database) -> None:
    with db.write_plain() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, text TEXT)")
    for start in range(0, ROWS, 500):  # a commit each: any of them could checkpoint
        with db.write_plain() as conn:
            conn.executemany("INSERT INTO filler (text) VALUES (?)", [("x" * 2_000,)] * 500)


def rows_in_the_file(path: Path, tmp: Path) -> int:
    """How many rows the database file itself holds, the log left out (a copy of the
    file alone: what a crash that lost the log would leave)."""
    alone = tmp / "alone.db"
    shutil.copyfile(path, alone)
    conn = sqlite3.connect(alone)
    try:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 'filler'").fetchone()
        return (
            0 if found is None else int(conn.execute("SELECT count(*) FROM filler").fetchone()[0])
        )
    finally:
        conn.close()


def test_the_command_lines_commits_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    db = Database(tmp_path / "listfed.db")
    fill(db)
    assert rows_in_the_file(db.path, tmp_path) > 0  # a commit past 1,000 pages copied the log
    db.close()


def test_the_daemons_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    db = Database(tmp_path / "listfed.db", checkpoints=False)
    fill(db)
    assert rows_in_the_file(db.path, tmp_path) == 0  # no commit copied the log
    wal = Path(f"{db.path}-wal")
    assert wal.stat().st_size > 1_000 * 4_096

    async def a_while() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(Checkpointer(db.path, 5.0, interval=0.05).run(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await running

    asyncio.run(a_while())
    assert rows_in_the_file(db.path, tmp_path) == ROWS  # everything reached the file
    size = wal.stat().st_size
    fill(db)  # the log starts again from its beginning: about as long as before, not twice
    assert wal.stat().st_size < 1.5 * size
    db.close()
