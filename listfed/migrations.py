"""Schema versions and upgrades of an existing database.

`MIGRATIONS[i]` takes a database from version i to i+1. Version 0 is an empty file.
A later issue adds a step here; never edit a step that has shipped. This sits above
db/ and archive/ (not inside db/) because a step may rebuild what the archive derives
from its raw messages (v5 does).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from listfed.archive import reindex
from listfed.db import (
    compressed,
    models,  # noqa: F401  (registers the tables)
    version,
)
from listfed.db.engine import Database
from listfed.db.schema_v1 import V1
from listfed.db.schema_v5 import ARCHIVE_COLUMNS, V5
from listfed.db.schema_v7 import V7
from listfed.db.schema_v15 import V15
from listfed.errors import StorageError


def _v1(conn: Connection) -> None:
    for statement in V1:
        conn.exec_driver_sql(statement)


def _v2(conn: Connection) -> None:
    """Federation: the relay ledger, and where a queued post came from. And outgoing ids
    that are never reused (AUTOINCREMENT): delivery caches messages by that id."""
    conn.exec_driver_sql(
        "CREATE TABLE outgoing_new (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "list_id INTEGER, kind VARCHAR NOT NULL, message_id VARCHAR NOT NULL, "
        "envelope_from VARCHAR NOT NULL, data BLOB NOT NULL, created FLOAT NOT NULL, "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.exec_driver_sql(
        "INSERT INTO outgoing_new SELECT id, list_id, kind, message_id, envelope_from, data, "
        "created FROM outgoing"
    )
    conn.exec_driver_sql("DROP TABLE outgoing")  # foreign keys are off during upgrades
    conn.exec_driver_sql("ALTER TABLE outgoing_new RENAME TO outgoing")
    conn.exec_driver_sql(
        "CREATE TABLE relay (id INTEGER NOT NULL, list_id INTEGER NOT NULL, "
        "message_id VARCHAR NOT NULL, thread_id VARCHAR NOT NULL, route VARCHAR NOT NULL, "
        "target VARCHAR NOT NULL, direction VARCHAR NOT NULL, created FLOAT NOT NULL, "
        "outcome VARCHAR NOT NULL, outgoing_id INTEGER, PRIMARY KEY (id), "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.execute(text("CREATE INDEX ix_relay_outgoing_id ON relay(outgoing_id)"))
    conn.execute(text("CREATE INDEX ix_relay_shared ON relay(list_id, target, thread_id)"))
    conn.execute(text("CREATE INDEX ix_relay_message ON relay(list_id, message_id)"))
    conn.execute(text("ALTER TABLE queue ADD COLUMN origin VARCHAR NOT NULL DEFAULT ''"))


def _v3(conn: Connection) -> None:
    """Members by email: confirmation tokens, robot reply log, digests, bounce scores."""
    for column in (
        "bounce_threshold INTEGER NOT NULL DEFAULT 5",
        "digest_size INTEGER NOT NULL DEFAULT 30720",
        "digest_period VARCHAR NOT NULL DEFAULT 'daily'",
        "digest_format VARCHAR NOT NULL DEFAULT 'mime'",
        "digest_issue INTEGER NOT NULL DEFAULT 0",
        "welcome_message VARCHAR NOT NULL DEFAULT ''",
        "goodbye_message VARCHAR NOT NULL DEFAULT ''",
    ):
        conn.exec_driver_sql(f"ALTER TABLE mlist ADD COLUMN {column}")
    for column in (
        "last_bounce FLOAT NOT NULL DEFAULT 0",
        "probe_sent FLOAT NOT NULL DEFAULT 0",
        # rows disabled before v3 were disabled by hand: mark them so
        "disabled_by VARCHAR NOT NULL DEFAULT ''",
    ):
        conn.exec_driver_sql(f"ALTER TABLE member ADD COLUMN {column}")
    conn.exec_driver_sql("UPDATE member SET disabled_by = 'admin' WHERE delivery_disabled")
    conn.exec_driver_sql(
        "CREATE TABLE token (id INTEGER NOT NULL, token VARCHAR NOT NULL, "
        "list_id INTEGER NOT NULL, address VARCHAR NOT NULL, action VARCHAR NOT NULL, "
        "name VARCHAR NOT NULL, expires FLOAT NOT NULL, created FLOAT NOT NULL, "
        "used FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (token), "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.exec_driver_sql("CREATE INDEX ix_token_list_id ON token (list_id)")
    conn.exec_driver_sql("CREATE INDEX ix_token_address ON token (address)")
    conn.exec_driver_sql(
        "CREATE TABLE robot_reply (id INTEGER NOT NULL, address VARCHAR NOT NULL, "
        "sent FLOAT NOT NULL, PRIMARY KEY (id))"
    )
    conn.exec_driver_sql("CREATE INDEX ix_robot_reply_address ON robot_reply (address)")
    conn.exec_driver_sql(
        "CREATE TABLE digest_item (id INTEGER NOT NULL, list_id INTEGER NOT NULL, "
        "message_id VARCHAR NOT NULL, raw BLOB NOT NULL, size INTEGER NOT NULL, "
        "created FLOAT NOT NULL, PRIMARY KEY (id), "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.exec_driver_sql("CREATE INDEX ix_digest_item_list_id ON digest_item (list_id)")


def _v4(conn: Connection) -> None:
    """Moderation by email, posting limits, DMARC and reply-to settings."""
    for column in (
        "emergency BOOLEAN NOT NULL DEFAULT 0",
        "accept_these_nonmembers VARCHAR NOT NULL DEFAULT ''",
        "hold_types VARCHAR NOT NULL DEFAULT ''",
        "dmarc_always VARCHAR NOT NULL DEFAULT ''",
        "dmarc_never VARCHAR NOT NULL DEFAULT ''",
        "hold_expiry FLOAT NOT NULL DEFAULT 1209600",
        "reply_to_override BOOLEAN NOT NULL DEFAULT 0",
    ):
        conn.exec_driver_sql(f"ALTER TABLE mlist ADD COLUMN {column}")
    conn.exec_driver_sql("ALTER TABLE member ADD COLUMN moderated BOOLEAN NOT NULL DEFAULT 0")
    # posts held before v4 keep waiting (0: no expiry); none of them had a notice either
    conn.exec_driver_sql("ALTER TABLE held ADD COLUMN expires FLOAT NOT NULL DEFAULT 0")


def _v5(conn: Connection) -> None:
    """The archive's full-text index and thread forest; archived bytes compressed.
    The text columns and threads of what is archived already are derived again."""
    for statement in ARCHIVE_COLUMNS:
        conn.exec_driver_sql(statement)
    db = conn.connection.dbapi_connection
    assert db is not None
    last = 0
    while rows := db.execute(
        "SELECT id, raw FROM archive WHERE id > ? ORDER BY id LIMIT 500", (last,)
    ).fetchall():
        db.executemany(
            "UPDATE archive SET raw = ?, size = ? WHERE id = ?",
            [(compressed.pack(raw), len(raw), rid) for rid, raw in rows],
        )
        last = rows[-1][0]
    for statement in V5:
        conn.exec_driver_sql(statement)
    reindex.everything(db)  # type: ignore[arg-type]


def _v6(conn: Connection) -> None:
    """Bridges: each bridge's IMAP cursor and health, and what it sent (echo fingerprints)."""
    conn.exec_driver_sql(
        "CREATE TABLE bridge_state (name VARCHAR NOT NULL, uidvalidity INTEGER NOT NULL, "
        "last_uid INTEGER NOT NULL, state VARCHAR NOT NULL, last_error VARCHAR NOT NULL, "
        "last_error_at FLOAT NOT NULL, last_message FLOAT NOT NULL, taken INTEGER NOT NULL, "
        "sent INTEGER NOT NULL, updated FLOAT NOT NULL, PRIMARY KEY (name))"
    )
    conn.exec_driver_sql(
        "CREATE TABLE bridge_sent (id INTEGER NOT NULL, bridge VARCHAR NOT NULL, "
        "key VARCHAR NOT NULL, author VARCHAR NOT NULL, body_len INTEGER NOT NULL, "
        "body_hash VARCHAR NOT NULL, message_id VARCHAR NOT NULL, created FLOAT NOT NULL, "
        "PRIMARY KEY (id))"
    )
    conn.exec_driver_sql("CREATE INDEX ix_bridge_sent_key ON bridge_sent (bridge, key)")
    conn.exec_driver_sql("CREATE INDEX ix_bridge_sent_created ON bridge_sent (created)")


def _v7(conn: Connection) -> None:
    """A message's bytes once per intake, not once per recipient: the `spooled` table,
    which queue items and held posts refer to (db/schema_v7.py says how it is kept)."""
    for statement in V7:
        conn.exec_driver_sql(statement)


def _v8(conn: Connection) -> None:
    """One-click unsubscribe (RFC 8058), on unless a list turns it off."""
    conn.exec_driver_sql("ALTER TABLE mlist ADD COLUMN one_click BOOLEAN NOT NULL DEFAULT 1")


def _v9(conn: Connection) -> None:
    """Owners are told of each join and leave (SPEC §2), unless a list says not to."""
    conn.exec_driver_sql("ALTER TABLE mlist ADD COLUMN notify_owners BOOLEAN NOT NULL DEFAULT 1")


def _v10(conn: Connection) -> None:
    """Signing in to members archives on the web (SPEC §10): the links mailed, by hash."""
    conn.exec_driver_sql(
        "CREATE TABLE sign_in (id INTEGER NOT NULL, digest VARCHAR NOT NULL, "
        "address VARCHAR NOT NULL, expires FLOAT NOT NULL, created FLOAT NOT NULL, "
        "used FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (digest))"
    )
    conn.exec_driver_sql("CREATE INDEX ix_sign_in_address ON sign_in (address)")


def _v11(conn: Connection) -> None:
    """Posts removed from an archive (`archive delete`, `members forget --posts`)."""
    conn.exec_driver_sql(
        "CREATE TABLE archive_removed (id INTEGER NOT NULL, list_id INTEGER NOT NULL "
        "REFERENCES mlist (id) ON DELETE CASCADE, message_id VARCHAR NOT NULL, "
        "thread_id VARCHAR NOT NULL, removed FLOAT NOT NULL, reason VARCHAR NOT NULL, "
        "PRIMARY KEY (id), UNIQUE (list_id, message_id))"
    )


def _v12(conn: Connection) -> None:
    """What the node counts (db/stats.py): by day for `listfed report`, in all for
    /metrics."""
    for table, day in (("stat_day", "day INTEGER NOT NULL, "), ("stat_total", "")):
        keys = "day, name, a, b, c" if day else "name, a, b, c"
        conn.exec_driver_sql(
            f"CREATE TABLE {table} ({day}name VARCHAR NOT NULL, a VARCHAR NOT NULL, "
            "b VARCHAR NOT NULL, c VARCHAR NOT NULL, count INTEGER NOT NULL, "
            f"PRIMARY KEY ({keys})) WITHOUT ROWID"
        )


def _v13(conn: Connection) -> None:
    """A list's posts by date: the newest (Atom feed, list page) and a month's threads
    read an index range instead of sorting the whole archive (bench/web.py)."""
    conn.exec_driver_sql("CREATE INDEX ix_archive_list_date ON archive (list_id, date, id)")


def _v14(conn: Connection) -> None:
    """A list's members by delivery mode: "has the list digest members?", asked of every
    post, reads an index entry instead of every member (0.27 s a post at a million,
    bench/RESULTS.md's scale curve)."""
    conn.exec_driver_sql("CREATE INDEX ix_member_list_delivery ON member (list_id, delivery)")


def _v15(conn: Connection) -> None:
    """The ranked search index (archive/topk): each post archived, changed or removed is
    noted for the daemon to carry into it. Every post already archived is noted as of
    long ago, so that searches use FTS5 until the index holds them all."""
    for statement in V15:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql("INSERT INTO search_pending (post, at) SELECT id, 0 FROM archive")


MIGRATIONS: list[Callable[[Connection], None]] = [
    *(_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12, _v13, _v14, _v15)
]
SCHEMA_VERSION = len(MIGRATIONS)
assert SCHEMA_VERSION == version.SCHEMA_VERSION


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
    with db.read() as session:  # no write lock when there is nothing to do (the CLI reads
        if current_version(session.connection()) == len(steps):  # beside a busy daemon)
            return len(steps)
    with db.writer.connect() as conn:
        version = current_version(conn)
        conn.rollback()
        if version > len(steps):
            raise StorageError(
                f"{db.path} has schema version {version}, newer than this listfed "
                f"({len(steps)}): upgrade listfed"
            )
        # Steps may rebuild tables: foreign keys are off meanwhile (SQLite's documented way;
        # the pragma has no effect inside a transaction) and checked before each commit.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            while version < len(steps):
                with conn.begin():
                    steps[version](conn)
                    version += 1
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise StorageError(f"upgrade to version {version} broke a reference")
                    conn.execute(
                        text(
                            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', :v)"
                        ),
                        {"v": str(version)},
                    )
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
    return version
