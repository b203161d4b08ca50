"""What the FTS5 index's segments cost a search: a node's database as it is, against a
copy merged as the daemon's housekeeping merges it (listfed/archive/ftsmerge).

    python bench/segments.py --node /tmp/webnode            # a node kept by bench/web.py
    python bench/segments.py --node /tmp/webnode --runs 5

Both copies are made in a scratch folder (the node is only read). For each, in turn and
alternating, bench/archive.py's 20 queries are searched in-process as the web face
searches (`search()` with the ranked index when the node has one, 21 hits, snippets for
20), and once more with FTS5 alone (the command line's search). Printed: the segments
of each copy, the merge's steps and time, and the mean CPU ms a search for the
search, its ranking and its snippets.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive import QUERIES
from fanout import calibrate, git_commit, machine

from listfed.archive import ftsmerge, opendb
from listfed.archive import search as searching
from listfed.archive.topk import rank
from listfed.archive.topk.index import Reader, open_reader


def segments(database: Path) -> int:
    """Segments of the archive's FTS5 index (of the words as written)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return ftsmerge.segments(conn, "archive_fts")


def merge(database: Path) -> tuple[int, float, float]:
    """Merge as the daemon does; (steps, wall s, CPU s)."""
    conn = sqlite3.connect(database, isolation_level=None)
    wall, cpu, steps = time.perf_counter(), time.process_time(), 0
    for table in ftsmerge.tables(conn):
        conn.execute("BEGIN IMMEDIATE")
        ftsmerge.prepare(conn, table)
        conn.execute("COMMIT")
        more = True
        while more:
            conn.execute("BEGIN IMMEDIATE")
            more = ftsmerge.step(conn, table)
            conn.execute("COMMIT")
            steps += 1
    conn.close()
    return steps, time.perf_counter() - wall, time.process_time() - cpu


class Timed:
    """CPU time spent in one function, wrapped where the search looks it up."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name, self.spent = owner, name, 0.0
        self.inner: Callable[..., Any] = getattr(owner, name)
        setattr(owner, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.spent += time.thread_time() - start


def measure(database: Path, ranked: bool, runs: int, timers: list[Timed]) -> list[float]:
    """Mean CPU ms a search: all, then each timer's share."""
    conn = opendb.connect(database, 5.0, readonly=True)
    reader: Reader | None = open_reader(database.with_name(database.stem + ".search"))
    if ranked and reader is None:
        sys.exit(f"{database}: no ranked index beside it")
    index = reader if ranked else None

    def once() -> None:
        for _what, query in QUERIES:
            searching.search(conn, query, limit=21, ranked=index, shown=slice(0, 20))

    once()  # warm
    for timer in timers:
        timer.spent = 0.0
    start = time.thread_time()
    for _ in range(runs):
        once()
    searches = runs * len(QUERIES)
    total = (time.thread_time() - start) / searches * 1000
    conn.close()
    return [total, *(t.spent / searches * 1000 for t in timers)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=Path, required=True, help="a node folder (var/listfed.db)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of the 20 queries a turn")
    parser.add_argument("--turns", type=int, default=3, help="alternations of the two copies")
    args = parser.parse_args()
    source = args.node / "var" / "listfed.db"
    print("listfed FTS5 segments benchmark")
    for key, value in machine().items():
        print(f"  {key:11s} {value}")
    commit, dirty = git_commit(Path(__file__).resolve().parent)
    print(f"  git         {commit}{' (uncommitted changes)' if dirty else ''}")
    with tempfile.TemporaryDirectory(dir=source.parent.parent.parent) as scratch:
        copies = {}
        for name in ("as is", "merged"):
            folder = Path(scratch) / name.replace(" ", "-")
            folder.mkdir()
            shutil.copyfile(source, folder / "listfed.db")
            (folder / "listfed.search").symlink_to(source.with_name("listfed.search"))
            copies[name] = folder / "listfed.db"
        steps, wall, cpu = merge(copies["merged"])
        print(f"  merge       {steps} steps, {wall:.2f} s wall, {cpu:.2f} s CPU")
        pieces = {name: segments(database) for name, database in copies.items()}
        # the copies' notes for the ranked index are stale (no daemon feeds them): searched
        # as current, which they are but for the node's last few posts
        Reader.current = lambda self, conn, now=None: True  # type: ignore[method-assign]
        timers = [Timed(rank, "best"), Timed(searching, "_snippets")]
        results: dict[tuple[str, bool], list[list[float]]] = {}
        for _ in range(args.turns):
            for ranked in (True, False):
                for name, database in copies.items():
                    got = measure(database, ranked, args.runs, timers)
                    results.setdefault((name, ranked), []).append(got)
    print(f"  calibration {calibrate():.0f} ms after")
    print("\n| search | copy | segments | CPU ms a search | ranking | snippets |")
    print("|---|---|---:|---:|---:|---:|")
    for (name, ranked), runs in results.items():
        means = [statistics.mean(r[i] for r in runs) for i in range(3)]
        ranking = f"{means[1]:.2f}" if ranked else "(FTS5)"
        print(
            f"| {'web (ranked index)' if ranked else 'FTS5 alone'} | {name} | "
            f"{pieces[name]} | {means[0]:.2f} | {ranking} | {means[2]:.2f} |"
        )


if __name__ == "__main__":
    main()
