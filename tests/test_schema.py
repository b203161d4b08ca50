"""Schema versions: a new database, an old one upgraded with its data, a newer one refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from listfed.archive import opendb
from listfed.db.engine import Database
from listfed.errors import StorageError
from listfed.migrations import SCHEMA_VERSION, upgrade
from listfed.ops import lists


def test_new_database_gets_the_newest_schema_in_wal_mode(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    assert upgrade(db) == SCHEMA_VERSION
    with db.read() as s:
        mode = s.connection().execute(text("PRAGMA journal_mode")).scalar()
    assert mode == "wal"
    assert upgrade(db) == SCHEMA_VERSION  # idempotent
    db.close()


def test_an_older_database_is_upgraded_keeping_its_data(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    upgrade(db)
    with db.write() as s:
        lists.create(s, "team@lists.example.org", ("lists.example.org",))

    def v2(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE mlist ADD COLUMN colour TEXT DEFAULT 'red'")

    from listfed.migrations import MIGRATIONS

    assert upgrade(db, [*MIGRATIONS, v2]) == SCHEMA_VERSION + 1
    with db.read() as s:
        row = s.connection().execute(text("SELECT local, colour FROM mlist")).one()
    assert tuple(row) == ("team", "red")
    db.close()


def test_a_new_list_and_member_have_the_models_defaults(tmp_path: Path) -> None:
    from listfed.db.models import MailingList, Member
    from listfed.ops import members

    db = Database(tmp_path / "a.db")
    upgrade(db)
    with db.write() as s:  # written with plain SQL (db/listrows.py, db/memberrows.py)
        lists.create(s, "team@lists.example.org", ("lists.example.org",))
        members.add(s, "team@lists.example.org", ["Ann <ann@example.net>"], now=5.0)
    with db.read() as s:
        stored = s.exec(select(MailingList)).one().model_dump()
        member = s.exec(select(Member)).one().model_dump()
    fresh = MailingList(local="team", domain="lists.example.org", created=stored["created"])
    assert stored == {**fresh.model_dump(), "id": stored["id"]}
    new = Member(
        list_id=stored["id"], address="ann@example.net", display_address="ann@example.net",
        name="Ann", created=5.0,
    )  # fmt: skip
    assert member == {**new.model_dump(), "id": member["id"]}
    db.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    upgrade(db)
    with db.write() as s:
        s.connection().execute(text("UPDATE meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(StorageError, match="newer than this listfed"):
        upgrade(db)
    db.close()


def test_the_upgraded_schema_has_every_column_the_models_declare(tmp_path: Path) -> None:
    from sqlmodel import SQLModel

    from listfed.db import models  # noqa: F401  (registers the tables)

    db = Database(tmp_path / "a.db")
    upgrade(db)
    with db.read() as s:
        conn = s.connection()
        for table in SQLModel.metadata.sorted_tables:
            found = {r[1] for r in conn.execute(text(f"PRAGMA table_info({table.name})"))}
            assert found == {c.name for c in table.columns}, table.name
    db.close()


def test_a_version_1_database_with_queued_mail_gets_the_relay_ledger(tmp_path: Path) -> None:
    from listfed.migrations import MIGRATIONS

    db = Database(tmp_path / "a.db")
    assert upgrade(db, MIGRATIONS[:1]) == 1
    with db.write() as s:
        s.connection().execute(
            text(
                "INSERT INTO queue (kind, rcpt, detail, mail_from, message_id, raw, received, "
                "approved, state, attempts, next_attempt, last_error) VALUES ('post', "
                "'a@b.example', '', '', 'm@x', X'00', 0, 0, 'new', 0, 0, '')"
            )
        )
    assert upgrade(db) == SCHEMA_VERSION
    with db.read() as s:
        conn = s.connection()
        assert conn.execute(text("SELECT origin FROM queue")).scalar() == ""
        assert conn.execute(text("SELECT COUNT(*) FROM relay")).scalar() == 0
    db.close()


def test_upgrading_keeps_queued_deliveries_and_never_reuses_outgoing_ids(
    tmp_path: Path,
) -> None:
    from listfed.migrations import MIGRATIONS

    db = Database(tmp_path / "a.db")
    upgrade(db, MIGRATIONS[:1])
    with db.write() as s:
        conn = s.connection()
        conn.execute(
            text(
                "INSERT INTO outgoing (id, kind, message_id, envelope_from, data, created) "
                "VALUES (7, 'post', 'm@x', 'l-bounces@x', X'41', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO outbox (outgoing_id, address, state, attempts, next_attempt, "
                "last_error) VALUES (7, 'a@b.example', 'pending', 0, 0, '')"
            )
        )
    upgrade(db)
    with db.write() as s:
        conn = s.connection()
        assert conn.execute(text("SELECT outgoing_id FROM outbox")).scalar() == 7
        conn.execute(text("DELETE FROM outgoing"))  # cascades to its outbox row
        assert conn.execute(text("SELECT COUNT(*) FROM outbox")).scalar() == 0
        new = conn.execute(
            text(
                "INSERT INTO outgoing (kind, message_id, envelope_from, data, created) "
                "VALUES ('post', 'n@x', 'l-bounces@x', X'42', 0) RETURNING id"
            )
        ).scalar()
    assert new == 8
    db.close()


V6_LIST = (
    "INSERT INTO mlist (local, domain, description, footer, policy, nonmember_action, archive, "
    "visibility, max_message_size, reply_to, dmarc, created) VALUES ('team', "
    "'lists.example.org', '', '', 'members', 'hold', 1, 'public', 0, 'none', 'munge', 0)"
)


def test_version_7_keeps_queued_and_held_mail_and_stores_it_apart(tmp_path: Path) -> None:
    """Queue and held rows of a version 6 database keep their bytes, now in `spooled`,
    which goes with the last row that refers to it, and only then."""
    from listfed.db import spooled
    from listfed.db.models import Held, QueueItem
    from listfed.migrations import MIGRATIONS

    db = Database(tmp_path / "a.db")
    assert upgrade(db, MIGRATIONS[:6]) == 6
    with db.write() as s:
        conn = s.connection()
        conn.execute(text(V6_LIST))  # as a version 6 node made it
        for n in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO queue (kind, list_id, rcpt, detail, mail_from, message_id, raw, "
                    "received, approved, origin, state, attempts, next_attempt, last_error) "
                    "VALUES ('post', 1, 'team@lists.example.org', '', 'a@x.example', :m, :r, 0, "
                    "0, '', :s, 0, 0, '')"
                ),
                {"m": f"q{n}@x", "r": f"queued {n}".encode(), "s": "bad" if n == 2 else "new"},
            )
        conn.execute(
            text(
                "INSERT INTO held (list_id, mail_from, sender, subject, message_id, reason, raw, "
                "received, expires) VALUES (1, 'a@x.example', 'a@x.example', 'hi', 'h@x', "
                "'not a member', :r, 0, 0)"
            ),
            {"r": b"held 1"},
        )
    assert upgrade(db) == SCHEMA_VERSION
    with db.write() as s:
        items = s.exec(select(QueueItem).order_by(col(QueueItem.id))).all()
        [row] = s.exec(select(Held)).all()
        assert [spooled.raw(s, i.spooled_id) for i in items] == [b"queued 1", b"queued 2"]
        assert [i.state for i in items] == ["new", "bad"]
        assert spooled.raw(s, row.spooled_id) == b"held 1"
        assert len({*(i.spooled_id for i in items), row.spooled_id}) == 3
        s.delete(items[0])
        s.delete(row)
    with db.read() as s:
        left = s.connection().execute(text("SELECT raw FROM spooled")).scalars().all()
    assert left == [b"queued 2"]  # the others went with their rows; the bad one's stays
    with db.write() as s, pytest.raises(IntegrityError):  # never freed while referred to
        s.connection().execute(text("DELETE FROM spooled"))
    db.close()


def _schema(path: Path) -> list[tuple[object, ...]]:
    """Every row of sqlite_master, in the order they were made."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT * FROM sqlite_master ORDER BY rowid").fetchall()


def test_init_makes_the_schema_the_daemon_makes(tmp_path: Path) -> None:
    """`listfed init` upgrades on a plain connection (migrations.upgrade_file), the
    daemon on its Database's: the same tables, indexes, triggers, in the same order."""
    from typer.testing import CliRunner

    from listfed.cli.app import app

    db = Database(tmp_path / "daemon.db")
    assert upgrade(db) == SCHEMA_VERSION
    db.close()
    config = tmp_path / "node" / "listfed.toml"
    assert CliRunner().invoke(app, ["--config", str(config), "init"]).exit_code == 0
    made = _schema(tmp_path / "node" / "var" / "listfed.db")
    assert len(made) > 50
    assert made == _schema(tmp_path / "daemon.db")


def test_an_older_database_is_upgraded_alike_either_way(tmp_path: Path) -> None:
    from listfed.migrations import MIGRATIONS, upgrade_file

    for name in ("plain.db", "daemon.db"):
        db = Database(tmp_path / name)
        assert upgrade(db, MIGRATIONS[:4]) == 4
        db.close()
    assert upgrade_file(tmp_path / "plain.db", 5.0) == SCHEMA_VERSION
    db = Database(tmp_path / "daemon.db")
    assert upgrade(db) == SCHEMA_VERSION
    db.close()
    assert _schema(tmp_path / "plain.db") == _schema(tmp_path / "daemon.db")


def test_a_current_database_is_checked_without_the_write_lock(tmp_path: Path) -> None:
    """A command beside a daemon in the middle of a write does not wait for it."""
    from listfed.migrations import upgrade_file

    path = tmp_path / "a.db"
    assert upgrade_file(path, 5.0) == SCHEMA_VERSION
    with closing(sqlite3.connect(path, isolation_level=None)) as busy:
        busy.execute("BEGIN IMMEDIATE")
        assert upgrade_file(path, 0.0) == SCHEMA_VERSION
        with pytest.raises(StorageError, match="newer than this listfed"):
            upgrade_file(path, 0.0, [])  # a check only: the lock is not asked for either
        busy.execute("ROLLBACK")


def test_a_newer_database_is_refused_on_a_plain_connection_too(tmp_path: Path) -> None:
    from listfed.migrations import upgrade_file

    path = tmp_path / "a.db"
    upgrade_file(path, 5.0)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StorageError, match="newer than this listfed"):
        upgrade_file(path, 5.0)


def test_a_step_that_breaks_a_reference_is_rolled_back(tmp_path: Path) -> None:
    """Foreign keys are off during a step, checked before its commit, and on again after."""
    from listfed.migrations import MIGRATIONS, upgrade_file

    path = tmp_path / "a.db"
    upgrade_file(path, 5.0)

    def orphan(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO member_tag (member_id) VALUES (1)")

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE member_tag (member_id INTEGER REFERENCES member (id))")
        orphan(conn)

    with pytest.raises(StorageError, match=f"upgrade to version {SCHEMA_VERSION + 1} broke"):
        upgrade_file(path, 5.0, [*MIGRATIONS, broken])
    conn = opendb.connect(path, 5.0)
    assert opendb.schema_version(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'member_tag'").fetchall() == []
    conn.close()
