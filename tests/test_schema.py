"""Schema versions: a new database, an old one upgraded with its data, a newer one refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from listfed.db.engine import Database
from listfed.db.schema import SCHEMA_VERSION, upgrade
from listfed.errors import StorageError
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

    def v2(conn: Connection) -> None:
        conn.execute(text("ALTER TABLE mlist ADD COLUMN colour TEXT DEFAULT 'red'"))

    from listfed.db.schema import MIGRATIONS

    assert upgrade(db, [*MIGRATIONS, v2]) == SCHEMA_VERSION + 1
    with db.read() as s:
        row = s.connection().execute(text("SELECT local, colour FROM mlist")).one()
    assert tuple(row) == ("team", "red")
    db.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    upgrade(db)
    with db.write() as s:
        s.connection().execute(text("UPDATE meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(StorageError, match="newer than this listfed"):
        upgrade(db)
    db.close()
