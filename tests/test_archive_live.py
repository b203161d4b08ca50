"""Posts that arrive by SMTP are searchable and threaded at once; older databases are
brought up to date with their archive searchable."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from sqlalchemy import text

from listfed.archive import opendb
from listfed.archive.search import search
from listfed.db import compressed
from listfed.db.engine import Database
from listfed.listinfo import Policy
from listfed.migrations import MIGRATIONS, SCHEMA_VERSION, upgrade
from tests.conftest import DOMAIN, World, post

TEAM = f"team@{DOMAIN}"
QUIET = f"quiet@{DOMAIN}"
A_LIST = (  # list 1, as the schema of any version has it
    "INSERT INTO mlist (id, local, domain, description, footer, policy, nonmember_action, "
    "archive, visibility, max_message_size, reply_to, dmarc, created) VALUES (1, 'team', "
    "'x.example', '', '', 'open', 'hold', 1, 'members', 0, 'none', 'munge', 0)"
)


def found(world: World, query: str) -> list[tuple[str, str, str]]:
    conn = opendb.connect(world.node.config.node.data_dir / "listfed.db", 5.0, readonly=True)
    try:
        return [(h.message_id, h.list, h.thread_id) for h in search(conn, query).hits]
    finally:
        conn.close()


async def test_a_post_and_its_reply_are_searchable_in_one_thread(world: World) -> None:
    world.make_list(TEAM, Policy.OPEN, people=["bob@example.org"])
    reply = post(
        subject="Re: Picket rota",
        body="I can take Thursday mornings.\n",
        message_id="<reply@example.net>",
        extra="In-Reply-To: <rota@example.net>\r\nReferences: <rota@example.net>\r\n",
    )
    # the reply comes first (out of order): the thread is whole once both are in
    await world.send(reply, TEAM)
    await world.idle()
    await world.send(
        post(
            subject="Picket rota", body="Who takes which shift?\n", message_id="<rota@example.net>"
        ),
        TEAM,
    )
    await world.idle()
    assert found(world, "thursday") == [("reply@example.net", TEAM, "rota@example.net")]
    assert found(world, "subject:picket") and {t for _m, _l, t in found(world, "picket")} == {
        "rota@example.net"
    }


async def test_a_list_without_archive_keeps_nothing_searchable(world: World) -> None:
    world.make_list(QUIET, Policy.OPEN, people=["bob@example.org"], archive="false")
    await world.send(post(subject="Off the record", to=QUIET, message_id="<q@x>"), QUIET)
    await world.idle()
    assert world.smarthost is not None and world.smarthost.deliveries()
    assert found(world, "record") == []


def test_an_older_database_gets_its_archive_indexed_and_compressed(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    assert upgrade(db, MIGRATIONS[:4]) == 4
    raw = (
        b"From: Ann <ann@example.org>\r\nSubject: Old minutes\r\nMessage-ID: <old@x>\r\n"
        b"Date: Mon, 04 Mar 2024 10:00:00 +0000\r\n\r\nMinutes of the general assembly.\r\n"
    )
    reply = raw.replace(b"<old@x>", b"<old2@x>\r\nReferences: <old@x>").replace(
        b"Minutes of", b"Comments on"
    )
    with db.write() as s:
        conn = s.connection()
        conn.execute(text(A_LIST))
        for i, (mid, data) in enumerate([("old@x", raw), ("old2@x", reply)]):
            conn.execute(
                text(
                    "INSERT INTO archive (list_id, message_id, thread_id, sender, sender_name, "
                    "date, subject, body_text, raw, received) VALUES (1, :m, :m, '', '', :d, "
                    "'', '', :r, 0)"
                ),
                {"m": mid, "r": data, "d": 1709546400 + i},
            )
    assert upgrade(db) == SCHEMA_VERSION
    db.close()
    conn = sqlite3.connect(tmp_path / "a.db")
    compressed.register(conn)  # as every connection of listfed's has it (schema v19)
    hits = search(conn, '"minutes of the general assembly"').hits
    assert [(h.message_id, h.visibility, h.sender) for h in hits] == [
        ("old@x", "members", "ann@example.org")
    ]
    assert [h.thread_id for h in search(conn, "comments").hits] == ["old@x"]
    blob, size, stored = conn.execute(
        "SELECT raw, size, body_text FROM archive WHERE message_id = 'old@x'"
    ).fetchone()
    assert compressed.unpack_message(blob, stored) == raw and size == len(raw)
    assert compressed.text_of(stored) == "Minutes of the general assembly.\n"
    conn.close()


def test_a_version_15_archive_upgraded_finds_words_by_their_stems(tmp_path: Path) -> None:
    from listfed.archive import record

    db = Database(tmp_path / "a.db")
    assert upgrade(db, MIGRATIONS[:15]) == 15  # the schema as listfed made it before stems
    raw = (
        b"From: Ann <ann@example.org>\r\nSubject: Printers installed\r\nMessage-ID: <p@x>\r\n"
        b"Date: Mon, 04 Mar 2024 10:00:00 +0000\r\n\r\nThe installation went well.\r\n"
    )
    with db.write() as s:
        s.connection().execute(text(A_LIST))
    plain = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    compressed.register(plain)  # as every connection of listfed's has it (schema v19)
    plain.execute("BEGIN IMMEDIATE")
    item = record.prepare(raw, "node.example")
    # as listfed wrote it before v19: the text plain, the message packed alone
    as_v15 = dataclasses.replace(
        item, text=item.extract.body_text, packed=compressed.pack(raw), stems=()
    )
    record.add(plain, 1, as_v15, 0.0)
    plain.execute("COMMIT")
    assert search(plain, '"installed"').hits  # v15's one index, by the words as written
    assert upgrade(db) == SCHEMA_VERSION
    db.close()
    assert [h.message_id for h in search(plain, "install").hits] == ["p@x"]
    assert [h.message_id for h in search(plain, "printer").hits] == ["p@x"]
    assert search(plain, '"install"').hits == []
    plain.close()
