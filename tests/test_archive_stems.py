"""English stems in search: `meets` finds "meeting", a quoted word is exact. The stems
are FTS5's `porter` (archive_stem, schema v16) and archive/porter's for the ranked
index, which must be the same; import, live archiving, reindex and removal keep the
stemmed index as they keep the other."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.archive import record
from listfed.archive.porter import stem
from listfed.archive.stemvocab import fold
from listfed.context import NodeSettings
from listfed.db import compressed
from listfed.db.engine import Database
from listfed.housekeeping import Housekeeper
from tests.test_archive_cli import TEAM, imported, run
from tests.test_archive_cli import ids as found
from tests.test_archive_cli import node_dir as node_dir  # the fixture

SUFFIXES = (
    "", "s", "es", "ies", "sses", "ed", "eed", "ing", "ational", "tional", "ization",
    "ation", "ness", "ful", "ive", "ize", "able", "ement", "ly", "ally", "alism", "ousness",
    "y", "ll", "e", "ate", "iti", "ion", "sion", "er", "izer", "biliti", "logi", "ousli",
)  # fmt: skip
ROOTS = ("a", "ab", "cat", "hop", "fil", "tann", "feed", "agre", "troubl", "siz", "fall",
         "control", "sky", "happi", "relat", "condition", "gener", "y", "yy", "qu", "café",
         "groß", "naïv", "x" * 62)  # fmt: skip


@pytest.fixture(scope="module")
def porter() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    yield conn
    conn.close()


def by_fts5(conn: sqlite3.Connection, words: list[str]) -> list[str]:
    conn.execute("DELETE FROM t")
    conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(words, 1))
    stems = dict(conn.execute("SELECT doc, term FROM v").fetchall())
    return [stems[i] for i in range(1, len(words) + 1)]


def test_stems_are_fts5s_for_the_readmes_words_and_every_suffix(
    porter: sqlite3.Connection,
) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    words = sorted({w.lower() for w in re.findall(r"[A-Za-z]+", readme)})
    words += [root + suffix for root in ROOTS for suffix in SUFFIXES]
    assert [stem(fold(word)) for word in words] == by_fts5(porter, words)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.text("abcdeilmnorstuwxyzé", min_size=1, max_size=14), min_size=1))
def test_stems_are_fts5s_for_any_word(porter: sqlite3.Connection, words: list[str]) -> None:
    assert [stem(fold(word)) for word in words] == by_fts5(porter, words)


def in_index(node_dir: Path, table: str, word: str) -> int:
    with sqlite3.connect(node_dir / "var" / "listfed.db") as db:
        sql = f"SELECT count(*) FROM {table} WHERE {table} MATCH ?"
        return int(db.execute(sql, (word,)).fetchone()[0])


def test_import_live_archiving_reindex_and_removal_keep_the_stems(node_dir: Path) -> None:
    imported(node_dir)  # "Rent strike meeting" and "We meet on Friday", and replies
    assert set(found("meets")) == {"root@x", "r1@x", "r2@x"}
    assert found('"meets"') == []
    assert set(found('"meet"')) == {"root@x", "r1@x"}
    db = sqlite3.connect(node_dir / "var" / "listfed.db", isolation_level=None)
    compressed.register(db)  # as every connection of listfed's has it (schema v19)
    (list_id,) = db.execute("SELECT id FROM mlist WHERE local = 'team'").fetchone()
    db.execute("BEGIN IMMEDIATE")
    item = record.prepare(b"Message-ID: <live@x>\nSubject: Live\n\nzeppelins land\n", "n.example")
    record.add(db, list_id, item, 0.0)
    db.execute("COMMIT")
    assert found("zeppelin") == ["live@x"] and found('"zeppelin"') == []
    db.execute("DELETE FROM stem_vocab")  # the words of each stem, lost
    assert found("fridays") == []  # only "friday" holds the stem: the table says so
    assert "reindexed 7 message(s)" in run("archive", "reindex")
    assert set(found("fridays")) == {"root@x", "r1@x"}
    assert found("zeppelin") == ["live@x"]
    run("archive", "delete", "<live@x>", "--list", TEAM)
    assert in_index(node_dir, "archive_fts", "zeppelins") == 0
    assert found("zeppelin") == []
    db.close()


def test_the_daily_check_adds_the_words_of_a_stem_that_the_table_lacks(node_dir: Path) -> None:
    """A word Python splits otherwise than FTS5 would be missing from stem_vocab: the
    housekeeper's daily check reads the index's own words and adds what is missing."""
    imported(node_dir)
    path = node_dir / "var" / "listfed.db"
    db = sqlite3.connect(path, isolation_level=None)
    lost = db.execute("DELETE FROM stem_vocab WHERE stem = 'fridai'").rowcount
    db.close()
    assert lost and found("fridays") == []
    database = Database(path)
    try:
        keeper = Housekeeper(database, lambda: NodeSettings("n.example"), lambda: None)
        assert asyncio.run(keeper.check_stems()) == lost
        assert asyncio.run(keeper.check_stems()) == 0
    finally:
        database.close()
    assert set(found("fridays")) == {"root@x", "r1@x"}
