"""Schema versions and upgrades of an existing database.

`MIGRATIONS[i]` takes a database from version i to i+1. Version 0 is an empty file.
A later issue adds a step here; never edit a step that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlmodel import SQLModel

from listfed.db import models  # noqa: F401  (registers the tables)
from listfed.db.engine import Database
from listfed.errors import StorageError


def _v1(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)
    # Retries that fall due, found without scanning the whole outbox.
    conn.execute(
        text(
            "CREATE INDEX ix_outbox_retry ON outbox(next_attempt) "
            "WHERE attempts > 0 AND state = 'pending'"
        )
    )


MIGRATIONS: list[Callable[[Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    has_meta = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'")
    ).first()
    if not has_meta:
        return 0
    row = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).first()
    return int(row[0]) if row else 0


def upgrade(db: Database, migrations: list[Callable[[Connection], None]] | None = None) -> int:
    """Bring the database to the newest schema, one committed step at a time."""
    steps = MIGRATIONS if migrations is None else migrations
    with db.writer.connect() as conn:
        version = current_version(conn)
        conn.rollback()
        if version > len(steps):
            raise StorageError(
                f"{db.path} has schema version {version}, newer than this listfed "
                f"({len(steps)}): upgrade listfed"
            )
        while version < len(steps):
            with conn.begin():
                steps[version](conn)
                version += 1
                conn.execute(
                    text("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', :v)"),
                    {"v": str(version)},
                )
    return version
