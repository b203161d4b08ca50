"""The ranked search index (listfed/archive/topk): it finds exactly what FTS5 finds, and
the feeder keeps it as the archive is, through removals, changes, crashes and damage."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from listfed.archive import opendb, stemvocab
from listfed.archive import search as searching
from listfed.archive.query import QueryError, compile_query
from listfed.archive.topk import feed, rank
from listfed.archive.topk import index as index_module
from listfed.archive.topk.compile import compile_tree
from listfed.archive.topk.feed import Feeder
from listfed.archive.topk.index import LAG, Reader, folder_of, open_reader
from listfed.archive.topk.rank import best
from listfed.db.schema_v15 import V15
from listfed.listinfo import Policy
from listfed.ops import archive as archive_ops
from listfed.web.app import build
from tests.conftest import DOMAIN, World, post
from tests.test_archive_query import CASES, MESSAGES, PIECES, SCHEMA, fill, run


def archive(path: Path) -> sqlite3.Connection:
    """The test archive of test_archive_query in a file, with the notes of schema v15."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA.replace("domain TEXT NOT NULL", "domain TEXT NOT NULL, "
                                      "visibility TEXT NOT NULL DEFAULT 'public'"))  # fmt: skip
    for statement in V15:
        conn.execute(statement)
    fill(conn)
    return conn


def writes(conn: sqlite3.Connection) -> Callable[[Callable[[sqlite3.Connection], None]], object]:
    """The daemon's `write`: the function in one write transaction."""

    async def write(fn: Callable[[sqlite3.Connection], None]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        fn(conn)
        conn.execute("COMMIT")

    return write


def feed_all(feeder: Feeder, conn: sqlite3.Connection, close: bool = True) -> int:
    """Carry every note over, as the daemon's passes do; let go of the index after."""
    carried = 0
    while True:
        count, last = feeder.pass_once()
        if not count:
            break
        feed.forget(conn, last)
        carried += count
    if close:
        feeder.close()
    return carried


def started(database: Path, conn: sqlite3.Connection) -> Feeder:
    feeder = Feeder(database, 5.0, writes(conn))  # type: ignore[arg-type]
    asyncio.run(feeder.start())
    return feeder


def reader_of(database: Path) -> Reader:
    reader = open_reader(folder_of(database))
    assert reader is not None
    return reader


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sqlite3.Connection, Reader]]:
    database = tmp_path_factory.mktemp("ranked") / "listfed.db"
    conn = archive(database)
    feed_all(started(database, conn), conn)
    yield conn, reader_of(database)
    conn.close()


def found(
    conn: sqlite3.Connection, reader: Reader, query: str, every: list[int] | None = None
) -> set[str] | None:
    """The message ids the index finds, None where it leaves the query to FTS5; `every`:
    the lists holding posts, as the web face's searches tell it (None: every list)."""
    compiled = compile_query(query)
    if every is None:
        every = [int(r[0]) for r in conn.execute("SELECT DISTINCT list_id FROM archive")]
    span = (compiled.after, compiled.before)
    ids = best(reader, conn, compiled.tree, 100, span, None, every)
    if ids is None:
        return None
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT message_id FROM archive WHERE id IN ({marks})", ids)
    return {str(r[0]) for r in rows}


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_the_index_finds_what_fts5_finds(
    node: tuple[sqlite3.Connection, Reader], query: str, expected: set[str]
) -> None:
    conn, reader = node
    answer = found(conn, reader, query)
    if "*" in query and any(ch.isalnum() for ch in query.split("*")[0][-1:]):
        assert answer is None  # a prefix: FTS5's to answer
    elif answer is None:  # dates alone: searches answer them by date, without ranking
        assert compile_query(query).match is None and not query.replace("after:", "").replace(
            "before:", ""
        ).strip("0123456789- ")
    else:
        assert answer == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(PIECES, st.sampled_from([" ", "", "  "])), max_size=14))
def test_any_query_finds_the_same_posts_by_either(
    node: tuple[sqlite3.Connection, Reader], parts: list[tuple[str, str]]
) -> None:
    conn, reader = node
    query = "".join(piece + gap for piece, gap in parts)
    try:
        compiled = compile_query(query, stemvocab.variants(conn))
    except QueryError:
        return
    answer = found(conn, reader, query)
    if answer is not None:
        assert answer == set(run(conn, compiled)), query


def test_ranked_like_fts5_subject_first_then_newest(
    node: tuple[sqlite3.Connection, Reader],
) -> None:
    conn, reader = node
    hits = searching.search(conn, "meeting", ranked=reader).hits
    assert [h.message_id for h in hits][-1] == "m9"  # only in m9's body
    hits = searching.search(conn, "from:ann", ranked=reader).hits
    assert [h.message_id for h in hits] == ["m7", "m1"]  # the same score: newest first
    assert [h.message_id for h in searching.search(conn, "from:ann").hits] == ["m7", "m1"]
    assert hits[0].snippet == "**ann**@example.org"  # snippets as before


def test_a_search_of_many_matches_ranks_them_all_at_once(
    node: tuple[sqlite3.Connection, Reader], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, reader = node
    monkeypatch.setattr(searching, "WINDOW", 2)
    by_fts5 = searching.search(conn, "meeting")
    assert by_fts5.window == 2  # "ranked among the newest 2 of 3 matches"
    by_index = searching.search(conn, "meeting", ranked=reader)
    assert by_index.window == 0 and len(by_index.hits) == 3


def test_only_the_lists_the_reader_may_read(node: tuple[sqlite3.Connection, Reader]) -> None:
    conn, reader = node
    conn.execute("UPDATE mlist SET visibility = 'private' WHERE id = 2")
    try:
        hits = searching.search(conn, "meeting", visibilities=["public"], ranked=reader).hits
        assert {h.message_id for h in hits} == {"m6", "m9"}  # not m3, on the private dev
        also = searching.search(conn, "meeting", visibilities=["public"], also=[2], ranked=reader)
        assert {h.message_id for h in also.hits} == {"m3", "m6", "m9"}
        one = searching.search(conn, "meeting", "general@other.example.net", ranked=reader)
        assert [h.message_id for h in one.hits] == ["m9"]
    finally:
        conn.execute("UPDATE mlist SET visibility = 'public' WHERE id = 2")


def test_phrases_are_found_by_their_pairs_of_words_exactly_as_fts5_finds_them(
    tmp_path: Path,
) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    conn.execute(  # every pair of "call a general" is here, but not the three words in a row
        "INSERT INTO archive (message_id, list_id, date, subject, sender, sender_name, "
        "body_text, attachments) VALUES ('m99', 1, 0, 'pairs', 'x@example.org', '', "
        "'we call a strike, and a general call', '')"
    )
    feed_all(started(database, conn), conn)
    reader = reader_of(database)
    for query in (
        '"call a general"',
        '"general strike"',  # m1; not m2, whose "general" and "strike" are apart
        '"strike general"',
        '"call a general strike"',
        '"a general strike on monday"',
        '"general strike monday"',  # its pairs are in m1, but not as one run of words
        '"is installed"',
        '"plain cafe menu" OR "station"',
        '-"general strike" strike',
    ):
        assert found(conn, reader, query) == set(
            run(conn, compile_query(query, stemvocab.variants(conn)))
        ), query
    assert found(conn, reader, '"call a general"') == {"m1"}  # not m99
    assert found(conn, reader, '"a general"') == {"m1", "m99"}
    assert found(conn, reader, '"call a general strike"') == {"m1"}
    assert found(conn, reader, '"general strike monday"') == set()
    assert index_module.pairs(["a", "b", "c" * 201, "d", "e"]) == "a+b d+e"


def test_a_list_that_holds_every_post_is_left_out_and_nothing_changes(tmp_path: Path) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    conn.execute("DELETE FROM archive WHERE list_id != 2")  # only dev's posts are left
    feed_all(started(database, conn), conn)
    reader = reader_of(database)
    for query, _expected in CASES:
        answer = found(conn, reader, query, every=[2])
        if answer is not None:
            assert answer == set(run(conn, compile_query(query, stemvocab.variants(conn)))), query
    assert found(conn, reader, "list:dev meeting", every=[2]) == {"m3"}
    assert found(conn, reader, "-list:dev meeting", every=[2]) == set()
    assert found(conn, reader, "list:dev OR nosuchword", every=[2]) == {"m3", "m4", "m7", "m8"}

    def compiled(query: str, every: list[int]) -> str:
        tree = compile_query(query).tree
        return repr(compile_tree(tree, reader.schema, reader.words, lambda _n: [2], every=every))

    assert compiled("list:dev meeting", [2]) == compiled("meeting", [2])  # no look at the list
    assert compiled("list:dev meeting", [2, 3]) != compiled("meeting", [2, 3])


def test_the_feeder_carries_removals_and_changes_over(tmp_path: Path) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    feeder = started(database, conn)
    feed_all(feeder, conn, close=False)
    reader = reader_of(database)
    assert found(conn, reader, "strike") == {"m1", "m2"}
    conn.execute("DELETE FROM archive WHERE message_id = 'm1'")
    conn.execute("UPDATE archive SET body_text = 'a picket line' WHERE message_id = 'm2'")
    assert feed_all(feeder, conn) == 2
    assert found(conn, reader, "strike") == {"m2"}  # still in m2's subject
    assert found(conn, reader, "fund") == {"m2"}
    assert found(conn, reader, "picket") == {"m2"}
    assert found(conn, reader, "budget") == set()  # m2's old text
    assert conn.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)


def test_a_crash_before_the_notes_are_forgotten_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    feeder = started(database, conn)
    assert feeder.pass_once()[0] == len(MESSAGES)  # committed, then "killed": not forgotten
    feeder.close()
    feeder = started(database, conn)  # the next start carries the same notes again
    feed_all(feeder, conn)
    reader = reader_of(database)
    compiled = compile_query("meeting")
    ids = best(reader, conn, compiled.tree, 100, (compiled.after, compiled.before), None)
    assert ids is not None and len(ids) == len(set(ids)) == 3


def test_searches_go_to_fts5_until_the_index_is_made_and_while_no_one_feeds_it(
    tmp_path: Path,
) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    assert open_reader(folder_of(database)) is None  # none yet: FTS5
    feeder = started(database, conn)  # a new index: every post noted as of long ago
    reader = reader_of(database)
    assert not reader.current(conn)
    feed_all(feeder, conn)
    assert reader.current(conn)
    conn.execute(
        "INSERT INTO archive (message_id, list_id, date, subject, sender, sender_name, "
        "body_text, attachments) VALUES ('m11', 1, 0, 'Late', 'x@example.org', '', 'news', '')"
    )
    assert reader.current(conn)  # a moment behind: the index answers, without it yet
    assert searching.search(conn, "news", ranked=reader).hits == []
    assert not reader.current(conn, now=time.time() + LAG + 1)  # the daemon is not feeding it
    conn.execute("UPDATE search_pending SET at = at - ?", (LAG + 1,))
    hits = searching.search(conn, "news", ranked=reader).hits  # so FTS5 answers, and has it
    assert [h.message_id for h in hits] == ["m11"]


def test_a_damaged_or_older_index_is_made_anew(tmp_path: Path) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    feed_all(started(database, conn), conn)
    folder = folder_of(database)
    (folder / "meta.json").write_text("{ not json")
    assert open_reader(folder) is None
    feed_all(started(database, conn), conn)
    assert found(conn, reader_of(database), "strike") == {"m1", "m2"}
    (folder / "VERSION").write_text("0\n")  # another schema
    assert open_reader(folder) is None
    feed_all(started(database, conn), conn)
    assert found(conn, reader_of(database), "strike") == {"m1", "m2"}


def test_a_reader_taking_its_lock_while_the_index_is_cleared_does_not_stop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web worker with the old index open takes its meta lock now and then, which makes
    `.tantivy-meta.lock` anew in the folder being cleared (seen: 1 run in 30): the new
    index is made beside that file; anything else left refuses, to be tried again."""
    database = tmp_path / "listfed.db"
    conn = archive(database)
    feed_all(started(database, conn), conn)
    folder = folder_of(database)
    (folder / "VERSION").write_text("0\n")  # to be made anew
    clear = shutil.rmtree

    def reader_meanwhile(path: Path, ignore_errors: bool = False) -> None:
        clear(path, ignore_errors=ignore_errors)
        Path(path).mkdir()
        (Path(path) / ".tantivy-meta.lock").touch()

    monkeypatch.setattr(index_module.shutil, "rmtree", reader_meanwhile)
    feed_all(started(database, conn), conn)
    assert found(conn, reader_of(database), "strike") == {"m1", "m2"}

    def stuck(path: Path, ignore_errors: bool = False) -> None:
        """Clears nothing (a file it may not remove): meta.json and the rest stay."""

    (folder / "VERSION").write_text("0\n")
    monkeypatch.setattr(index_module.shutil, "rmtree", stuck)
    with pytest.raises(OSError, match="could not be cleared"):
        index_module.open_writable(folder)


async def test_the_daemon_feeds_the_index_and_the_web_face_searches_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.make_list(f"team@{DOMAIN}", Policy.OPEN, ["bob@example.org"])  # public
    for n in range(3):
        raw = post(f"Budget {n}", "The budget meeting.\n", message_id=f"<b{n}@example.net>")
        await world.send(raw, f"team@{DOMAIN}")
    await world.idle()
    database = world.node.db.path

    def pending() -> int:
        with sqlite3.connect(database) as conn:
            return int(conn.execute("SELECT count(*) FROM search_pending").fetchone()[0])

    for _ in range(200):  # the feeder passes once a second when idle
        if pending() == 0:
            break
        await asyncio.sleep(0.05)
    assert pending() == 0
    monkeypatch.setattr(searching, "WINDOW", 1)  # FTS5 would rank among the newest 1
    with TestClient(build(database)) as client:
        page = client.get(f"/team@{DOMAIN}/search", params={"q": "budget"}).text
        assert page.count('class="snippet"') == 3 and "Ranked among the newest" not in page
        conn = opendb.connect(database, 5.0)
        archive_ops.delete(conn, "<b1@example.net>", None, time.time())
        conn.close()
        page = client.get(f"/team@{DOMAIN}/search", params={"q": "budget"}).text
        assert page.count('class="snippet"') == 2 and "Budget 1" not in page  # at once


def test_equal_scores_past_the_margin_still_give_the_newest(
    node: tuple[sqlite3.Connection, Reader], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, reader = node
    monkeypatch.setattr(rank, "MARGIN", 0)
    assert searching.search(conn, "from:ann", limit=1, ranked=reader).hits[0].message_id == "m7"


async def test_the_feeder_makes_the_index_anew_when_it_is_lost_while_running(
    tmp_path: Path,
) -> None:
    database = tmp_path / "listfed.db"
    conn = archive(database)
    feeder = Feeder(database, 5.0, writes(conn))  # type: ignore[arg-type]
    await feeder.start()
    stop = asyncio.Event()
    task = asyncio.create_task(feeder.run(stop, poll=0.02, after_failure=0.05))

    async def until(done: Callable[[], bool]) -> None:
        for _ in range(400):
            if done():
                return
            await asyncio.sleep(0.025)
        raise AssertionError("gave up waiting")

    def pending() -> int:
        return int(conn.execute("SELECT count(*) FROM search_pending").fetchone()[0])

    try:
        await until(lambda: pending() == 0)
        shutil.rmtree(folder_of(database))  # a careless admin, a disk replaced
        conn.execute(
            "INSERT INTO archive (message_id, list_id, date, subject, sender, sender_name, "
            "body_text, attachments) VALUES ('m11', 1, 0, 'Picnic', 'x@example.org', '', '', '')"
        )
        await until(lambda: open_reader(folder_of(database)) is not None and pending() == 0)
        reader = reader_of(database)
        assert found(conn, reader, "picnic") == {"m11"}
        assert found(conn, reader, "strike") == {"m1", "m2"}  # the whole archive again
    finally:
        stop.set()
        await task


def test_only_the_hits_shown_get_a_snippet_by_either(
    node: tuple[sqlite3.Connection, Reader],
) -> None:
    conn, reader = node
    for ranked in (None, reader):
        hits = searching.search(conn, "meeting", limit=3, shown=slice(1, 2), ranked=ranked).hits
        assert len(hits) == 3
        assert [bool(h.snippet) for h in hits] == [False, True, False]
        assert "**" in hits[1].snippet.lower()


def test_words_are_found_by_their_stems_and_marked_alike_by_either(
    node: tuple[sqlite3.Connection, Reader],
) -> None:
    conn, reader = node
    for ranked in (None, reader):
        hits = {
            h.message_id: h.snippet for h in searching.search(conn, "install", ranked=ranked).hits
        }
        assert set(hits) == {"m4", "m10"}
        assert "**installed**" in hits["m10"] and "**installation**" in hits["m4"]
        exact = searching.search(conn, '"installed" OR organizing', ranked=ranked).hits
        assert {h.message_id for h in exact} == {"m7", "m8", "m10"}
