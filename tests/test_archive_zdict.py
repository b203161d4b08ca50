"""Messages packed with a compression dictionary (schema v18, archive/zdict.py): a blob
names the dictionary it needs; import, live archiving, the upgrade and reindex pack with
the archive's dictionary, and every reader gives the message back byte for byte."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from listfed.archive import importer, posts, record, zdict
from listfed.archive.mbox import read_mbox
from listfed.db import compressed
from listfed.db.engine import Database
from listfed.errors import StorageError
from listfed.migrations import MIGRATIONS, SCHEMA_VERSION, upgrade, upgrade_file
from listfed.ops import lists
from tests.test_archive_cli import TEAM, imported, run
from tests.test_archive_cli import node_dir as node_dir  # the fixture

WORDS = "tenants union rent strike meeting agenda minutes budget leaflets assembly".split()


def message(i: int) -> bytes:
    words = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 40))
    return (
        f"From: Person {i % 17} <p{i % 17}@example.org>\nTo: team@example.org\n"
        f"Subject: Re: {WORDS[i % len(WORDS)]} {i}\nMessage-ID: <m{i}@x>\n"
        f"Date: Mon, 04 Mar 2019 10:{i % 60:02d}:00 +0000\n\n{words}\nmessage {i}\n"
    ).encode()


def connect(path: Path) -> sqlite3.Connection:
    """A plain connection with the SQL function listfed's own connections have (v19)."""
    conn = sqlite3.connect(path, isolation_level=None)
    compressed.register(conn)
    return conn


def test_a_blob_names_its_dictionary_and_unpacks_only_with_it() -> None:
    raw, zd = message(1), b"".join(message(i) for i in range(2, 60))
    blob = compressed.pack(raw, zd)
    assert compressed.packed_with(blob) == compressed.dictionary_id(zd)
    assert len(blob) < len(compressed.pack(raw))
    assert compressed.unpack(blob, {compressed.dictionary_id(zd): zd}.get) == raw
    with pytest.raises(StorageError, match="dictionary"):
        compressed.unpack(blob, {}.get)
    with pytest.raises(StorageError, match="damaged"):
        compressed.unpack(blob[:-3], {compressed.dictionary_id(zd): zd}.get)
    plain = compressed.pack(raw)
    assert compressed.packed_with(plain) is None and compressed.unpack(plain) == raw


def packed(db: sqlite3.Connection) -> dict[int | None, int]:
    """How many archived messages each dictionary packed (None: none)."""
    counts: dict[int | None, int] = {}
    for (blob,) in db.execute("SELECT raw FROM archive"):
        key = compressed.packed_with(blob)
        counts[key] = counts.get(key, 0) + 1
    return counts


def imported_in_batches(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> tuple[list[bytes], sqlite3.Connection]:
    """`count` messages imported 100 a batch: the messages, and a connection to the node."""
    monkeypatch.setattr(importer, "BATCH", 100)
    messages = [message(i) for i in range(count)]
    imported(node_dir, messages)
    return messages, connect(node_dir / "var" / "listfed.db")


def test_import_live_archiving_and_reindex_pack_with_the_dictionary(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages, db = imported_in_batches(node_dir, monkeypatch, zdict.MIN_POSTS + 150)
    (key,) = db.execute("SELECT id FROM zdict").fetchone()
    # the first two batches came before the archive had 200 messages to learn from
    assert packed(db) == {None: zdict.MIN_POSTS, key: 150}
    out = node_dir / "out.mbox"
    run("archive", "export", TEAM, "-o", str(out))
    assert sorted(entry.raw for entry in read_mbox(out)) == sorted(messages)  # by date
    assert run("archive", "show", "<m300@x>", "--list", TEAM, "--raw") == messages[300].decode()
    (list_id,) = db.execute("SELECT id FROM mlist WHERE local = 'team'").fetchone()
    live = message(1000)
    db.execute("BEGIN IMMEDIATE")
    record.add(db, list_id, record.prepare(live, "n.example", zdict=zdict.current(db)), 0.0)
    db.execute("COMMIT")
    found = posts.placed(db, list_id, "m1000@x")
    assert found is not None and found.raw == live
    assert "reindexed 351 message(s)" in run("archive", "reindex")
    assert packed(db) == {key: 351}
    run("archive", "export", TEAM, "-o", str(out))
    assert sorted(entry.raw for entry in read_mbox(out)) == sorted([*messages, live])
    db.close()


def test_the_upgrade_learns_from_the_archive_and_leaves_its_rows(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    assert upgrade(db, MIGRATIONS[:17]) == 17
    with db.write() as s:
        lists.create(s, "team@lists.example.org", ("lists.example.org",))
    db.close()
    conn = connect(tmp_path / "a.db")
    conn.execute("BEGIN")
    for i in range(zdict.MIN_POSTS):
        item = record.prepare(message(i), "n.example")
        record.add(conn, 1, dataclasses.replace(item, stems=()), 0.0)  # v17: no stem_vocab
    conn.execute("COMMIT")
    before = conn.execute("SELECT id, raw FROM archive ORDER BY id").fetchall()
    assert upgrade_file(tmp_path / "a.db", 5.0) == SCHEMA_VERSION
    assert conn.execute("SELECT id, raw FROM archive ORDER BY id").fetchall() == before
    made = zdict.current(conn)
    assert made is not None and len(made) == zdict.SIZE
    later = record.prepare(message(999), "n.example", zdict=made)
    assert compressed.packed_with(later.packed) == compressed.dictionary_id(made)
    conn.close()


def test_a_live_post_makes_the_dictionary_once_the_archive_can_learn(node_dir: Path) -> None:
    imported(node_dir, [message(i) for i in range(zdict.MIN_POSTS - 1)])
    db = connect(node_dir / "var" / "listfed.db")
    assert zdict.for_packing(db) is None
    (list_id,) = db.execute("SELECT id FROM mlist WHERE local = 'team'").fetchone()
    db.execute("BEGIN IMMEDIATE")
    record.add(db, list_id, record.prepare(message(500), "n.example"), 0.0)
    made = zdict.for_packing(db)
    db.execute("COMMIT")
    assert made is not None and zdict.for_packing(db) == made
    assert db.execute("SELECT count(*) FROM zdict").fetchone() == (1,)
    db.close()
