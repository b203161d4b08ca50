"""The archive's text packed and the message chained to it (schema v19, db/compressed.py):
what is stored is much smaller, every reader gets the same text and bytes back, the two
search indexes stay in step with the rows through live posts, imports, reindexing and
removal, and rows stored before v19 stay readable until `archive reindex` packs them."""

from __future__ import annotations

import gc
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from listfed.archive import posts, record, reindex, zdict
from listfed.archive.search import search
from listfed.db import compressed
from listfed.db.engine import Database
from listfed.errors import StorageError
from listfed.migrations import MIGRATIONS, SCHEMA_VERSION, upgrade, upgrade_file
from listfed.ops import lists
from tests.test_archive_cli import TEAM, imported, run
from tests.test_archive_cli import node_dir as node_dir  # the fixture
from tests.test_archive_zdict import WORDS, connect, imported_in_batches, message

INDEXES = ("archive_fts",)


def test_a_message_chained_to_its_text_comes_back_byte_for_byte() -> None:
    shared = b"".join(message(i) for i in range(2, 80))[-zdict.SIZE :]
    find = {compressed.dictionary_id(shared): shared}.get
    for raw, text in [
        (message(1), "the text of message 1\n"),
        (message(2), ""),
        (b"Subject: long\n\n" + b"word " * 20_000, "word " * 20_000),  # past zlib's window
        (b"Subject: x\n\n\xff\xfe not utf-8", "not utf-8 \u00e9\u20ac"),
    ]:
        for zd, lookup in ((shared, find), (None, None)):
            blob = compressed.pack_message(raw, text, zd)
            stored = compressed.pack_text(text, zd)
            assert compressed.text_of(stored, lookup) == text
            assert compressed.unpack_message(blob, stored, lookup) == raw
            assert compressed.unpack_message(blob, text, lookup) == raw  # or the text itself
            assert compressed.packed_with(blob) == (compressed.dictionary_id(zd) if zd else None)
    draw = random.Random(7)
    words = [draw.choice(WORDS) + draw.choice(["", "s", "ing", "ed"]) for _ in range(400)]
    body = "\n".join(" ".join(words[i : i + 10]) for i in range(0, 400, 10)) + "\n"
    raw = b"From: a@example.org\nSubject: s\n\n" + body.encode()
    chained = compressed.pack_message(raw, body, shared)
    assert len(chained) < len(compressed.pack(raw, shared)) / 2  # the body costs ~nothing
    with pytest.raises(StorageError, match="damaged"):
        compressed.unpack_message(chained, body.replace("rent", "RENT"), find)  # not its text
    with pytest.raises(StorageError, match="damaged"):
        compressed.unpack_message(chained[:-4], body, find)
    with pytest.raises(StorageError, match="dictionary"):
        compressed.unpack_message(chained, body, {}.get)
    with pytest.raises(StorageError, match="damaged"):
        compressed.text_of(compressed.pack_text(body)[:-3])


def consistent(db: sqlite3.Connection) -> None:
    """FTS5's own check of each index against the rows it indexes (read through the view)."""
    for index in INDEXES:
        db.execute(f"INSERT INTO {index}({index}) VALUES ('integrity-check')")


def test_imported_and_live_posts_are_stored_packed_and_read_back_whole(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages, db = imported_in_batches(node_dir, monkeypatch, zdict.MIN_POSTS + 50)
    kinds = db.execute("SELECT DISTINCT typeof(body_text), substr(raw, 1, 1) FROM archive")
    assert kinds.fetchall() == [("blob", compressed.CHAINED)]
    (stored,) = db.execute(
        "SELECT sum(length(body_text)) + sum(length(raw)) FROM archive"
    ).fetchone()
    shared = zdict.current(db)
    texts = [record.prepare(raw, "n.example").extract.body_text for raw in messages]
    before = sum(len(compressed.pack(raw, shared)) for raw in messages)  # v18: the message
    before += sum(len(text.encode()) for text in texts)  # and the text, plain
    assert stored < 0.6 * before
    consistent(db)
    hit = json.loads(run("archive", "search", "zeppelins OR tenants", "--json"))[0]
    assert "**tenants**" in hit["snippet"]
    assert run("archive", "show", "<m7@x>", "--list", TEAM, "--raw") == messages[7].decode()
    (list_id,) = db.execute("SELECT id FROM mlist WHERE local = 'team'").fetchone()
    live = b"Message-ID: <live@x>\nSubject: Airships\n\nzeppelins land on the roof\n"
    db.execute("BEGIN IMMEDIATE")
    record.add(db, list_id, record.prepare(live, "n.example", zdict=zdict.current(db)), 0.0)
    db.execute("COMMIT")
    consistent(db)
    hit = json.loads(run("archive", "search", "zeppelin", "--json"))[0]
    assert hit["message_id"] == "live@x" and "**zeppelins**" in hit["snippet"]
    found = posts.placed(db, list_id, "live@x")
    assert found is not None and found.raw == live
    assert found.post.body_text == "zeppelins land on the roof\n"
    assert posts.by_ids(db, list_id, ["live@x"])["live@x"].body_text == found.post.body_text
    run("archive", "delete", "<live@x>", "--list", TEAM)
    consistent(db)
    assert json.loads(run("archive", "search", "zeppelin", "--json")) == []
    db.close()


def test_rows_archived_before_v19_stay_readable_and_reindex_packs_them(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = Database(path)
    assert upgrade(db, MIGRATIONS[:18]) == 18
    with db.write() as s:
        lists.create(s, "team@lists.example.org", ("lists.example.org",))
    db.close()
    conn = connect(path)
    old = {i: message(i) for i in range(3)}
    conn.execute("BEGIN")
    for raw in old.values():  # as listfed archived before v19: plain text, message alone
        item = record.prepare(raw, "n.example")
        ex = item.extract
        conn.execute(
            "INSERT INTO archive (list_id, message_id, thread_id, sender, sender_name, date, "
            "subject, body_text, attachments, size, raw, received) "
            "VALUES (1, ?, ?, ?, ?, 0, ?, ?, '', ?, ?, 0)",
            (
                item.message_id,
                item.message_id,
                ex.sender,
                ex.sender_name,
                ex.subject,
                ex.body_text,
                len(raw),
                compressed.pack(raw),
            ),
        )
    conn.execute("COMMIT")
    assert upgrade_file(path, 5.0) == SCHEMA_VERSION
    consistent(conn)
    hits = search(conn, "message 1").hits
    assert [h.message_id for h in hits] == ["m1@x"] and "**message**" in hits[0].snippet
    assert conn.execute("SELECT DISTINCT typeof(body_text) FROM archive").fetchall() == [("text",)]
    found = posts.placed(conn, 1, "m1@x")
    assert found is not None and found.raw == old[1] and "message 1" in found.post.body_text
    conn.execute("BEGIN IMMEDIATE")
    assert reindex.everything(conn) == 3
    conn.execute("COMMIT")
    kinds = conn.execute("SELECT DISTINCT typeof(body_text), substr(raw, 1, 1) FROM archive")
    assert kinds.fetchall() == [("blob", compressed.CHAINED)]
    consistent(conn)
    assert [h.message_id for h in search(conn, "message 1").hits] == ["m1@x"]
    for i, raw in old.items():
        found = posts.placed(conn, 1, f"m{i}@x")
        assert found is not None and found.raw == raw
    conn.execute("DELETE FROM archive WHERE message_id = 'm2@x'")
    consistent(conn)
    assert search(conn, "message 2").hits == []
    conn.close()


def test_a_connection_without_the_function_cannot_change_the_archive(node_dir: Path) -> None:
    """The indexes read the text through listfed_text: a connection that lacks it (the
    sqlite3 shell, say) is refused, and the archive and its indexes stay as they were."""
    imported(node_dir)
    bare = sqlite3.connect(node_dir / "var" / "listfed.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="listfed_text"):
        bare.execute("DELETE FROM archive WHERE message_id = 'root@x'")
    bare.close()
    db = connect(node_dir / "var" / "listfed.db")
    consistent(db)
    assert db.execute("SELECT count(*) FROM archive WHERE message_id = 'root@x'").fetchone() == (1,)
    db.close()


def test_the_text_function_reads_a_dictionary_it_has_not_seen_and_keeps_no_file_open(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages, db = imported_in_batches(node_dir, monkeypatch, zdict.MIN_POSTS + 50)
    db.close()
    path = node_dir / "var" / "listfed.db"
    monkeypatch.setattr(compressed, "_DICTIONARIES", {})  # made by another process, say
    conn = sqlite3.connect(path)
    compressed.register(conn)
    newest = messages[-1]
    (text,) = conn.execute(
        "SELECT listfed_text(body_text) FROM archive ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert text == record.prepare(newest, "n.example").extract.body_text
    conn.close()
    files = len(os.listdir("/proc/self/fd"))
    for _ in range(20):  # dropped, not closed: freed all the same (no reference cycle)
        dropped = sqlite3.connect(path)
        compressed.register(dropped)
        dropped.execute("SELECT listfed_text(body_text) FROM archive LIMIT 1").fetchone()
        del dropped
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= files
