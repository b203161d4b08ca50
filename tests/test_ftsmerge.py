"""The daemon keeps the archive's search index in few segments (archive/ftsmerge): a
node that archives a post a transaction would otherwise search a dozen or more, each
looked in for every match and every snippet."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from listfed.archive import ftsmerge, opendb
from listfed.archive.search import search
from listfed.db.engine import Database
from listfed.housekeeping import Housekeeper
from listfed.listinfo import Policy
from tests.conftest import DOMAIN, World, post

TEAM = f"team@{DOMAIN}"


def segments(database: Path, table: str = "archive_fts") -> int:
    with sqlite3.connect(database) as conn:
        return ftsmerge.segments(conn, table)


def hits(database: Path, query: str) -> list[str]:
    conn = opendb.connect(database, 5.0, readonly=True)
    try:
        return [h.message_id for h in search(conn, query, limit=100).hits]
    finally:
        conn.close()


async def test_housekeeping_merges_the_index_and_every_search_finds_the_same(
    world: World,
) -> None:
    world.make_list(TEAM, Policy.OPEN, ["bob@example.org"])
    for n in range(24):  # one post a transaction, as a node archives them
        body = f"The budget meeting, item {n}.\n" + ("minutes of the assembly\n" if n % 3 else "")
        await world.send(post(f"Budget {n}", body, message_id=f"<b{n}@example.net>"), TEAM)
        await world.idle()
    database = world.node.db.path
    before = segments(database)
    assert before >= 4  # what FTS5 leaves by itself
    queries = ["budget", "assembly", '"budget meeting"', "minutes -item", "subject:budget"]
    found = {q: hits(database, q) for q in queries}

    steps = await world.node.housekeeper.merge(asyncio.Event())

    with sqlite3.connect(database) as conn:
        tables = ftsmerge.tables(conn)  # the words as written, and their stems
    assert tables == ["archive_fts"]
    assert steps > len(tables) and all(segments(database, t) <= 2 for t in tables)
    assert {q: hits(database, q) for q in queries} == found  # same posts, same order
    with sqlite3.connect(database) as conn:
        for table in tables:
            conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
    # nothing more to merge: the next pass is a step a table that finds nothing
    assert await world.node.housekeeper.merge(asyncio.Event()) == len(tables)


def test_a_step_merges_a_little_and_says_when_nothing_is_left(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE words USING fts5(text)")
    conn.execute("CREATE TABLE plain (x)")
    for n in range(40):
        conn.execute("INSERT INTO words VALUES (?)", (f"word{n} common " * 50,))
    assert ftsmerge.tables(conn) == ["words"]
    ftsmerge.prepare(conn, "words")
    ftsmerge.prepare(conn, "words")  # set once
    assert conn.execute("SELECT v FROM words_config WHERE k = 'usermerge'").fetchall() == [(2,)]
    steps = 0
    while ftsmerge.step(conn, "words"):
        steps += 1
        assert steps < 1_000
    assert steps >= 1 and segments(tmp_path / "t.db", "words") <= 2
    assert len(conn.execute("SELECT rowid FROM words WHERE words MATCH 'common'").fetchall()) == 40


async def test_a_merge_that_cannot_write_is_left_for_the_next_pass(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A database locked by another writer: the pass says so in the log and goes on."""
    database = world.node.db.path
    quick = Database(database, busy_timeout=0.1)
    housekeeper = Housekeeper(quick, lambda: world.node.dispatcher.node, lambda: None)
    blocker = sqlite3.connect(database, isolation_level=None, timeout=5)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        steps = await housekeeper.merge(asyncio.Event())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        quick.close()
    assert steps == 0 and "merging the search index failed" in caplog.text


async def test_the_words_of_each_stem_are_checked_soon_after_start_then_daily(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000_000.0]
    keeper = Housekeeper(
        world.node.db, lambda: world.node.dispatcher.node, lambda: None, clock=lambda: now[0]
    )
    checked: list[float] = []

    async def check() -> int:
        checked.append(now[0])
        return 0

    monkeypatch.setattr(keeper, "check_stems", check)

    async def passes(count: int) -> None:  # let the loop run `count` more passes
        for _ in range(count):
            keeper.wake.set()
            for _ in range(2000):  # the loop clears it when the next pass begins
                await asyncio.sleep(0.01)
                if not keeper.wake.is_set():
                    break

    stop = asyncio.Event()
    task = asyncio.create_task(keeper.run(stop, poll=3600))
    try:
        await passes(2)
        assert checked == []
        now[0] += 600  # ten minutes after start
        await passes(2)
        assert checked == [1_000_600.0]
        now[0] += 86_000  # not a day later yet
        await passes(2)
        assert checked == [1_000_600.0]
        now[0] += 400
        await passes(2)
        assert checked == [1_000_600.0, 1_087_000.0]
    finally:
        stop.set()
        keeper.wake.set()
        await task
