"""Schema versions and upgrades of an existing database.

`MIGRATIONS[i]` takes a database from version i to i+1. Version 0 is an empty file.
A later issue adds a step here; never edit a step that has shipped. This sits above
db/ and archive/ (not inside db/) because a step may rebuild what the archive derives
from its raw messages (v5 does).

Steps run on a plain sqlite3 connection: `listfed init` and the commands that answer
without SQLAlchemy (cli/base.py's `plain`) make or upgrade a database without loading
it; the daemon passes its Database (`upgrade`), whose writer lends the connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from listfed.archive import opendb, reindex, stemvocab, zdict
from listfed.db import compressed, version
from listfed.db.plain import transaction
from listfed.db.schema_v1 import V1
from listfed.db.schema_v5 import ARCHIVE_COLUMNS, V5
from listfed.db.schema_v7 import V7
from listfed.db.schema_v15 import V15
from listfed.db.schema_v16 import FILL, V16
from listfed.db.schema_v19 import V19
from listfed.errors import StorageError

if TYPE_CHECKING:
    from listfed.db.engine import Database


def _v1(conn: sqlite3.Connection) -> None:
    for statement in V1:
        conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """Federation: the relay ledger, and where a queued post came from. And outgoing ids
    that are never reused (AUTOINCREMENT): delivery caches messages by that id."""
    conn.execute(
        "CREATE TABLE outgoing_new (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
        "list_id INTEGER, kind VARCHAR NOT NULL, message_id VARCHAR NOT NULL, "
        "envelope_from VARCHAR NOT NULL, data BLOB NOT NULL, created FLOAT NOT NULL, "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.execute(
        "INSERT INTO outgoing_new SELECT id, list_id, kind, message_id, envelope_from, data, "
        "created FROM outgoing"
    )
    conn.execute("DROP TABLE outgoing")  # foreign keys are off during upgrades
    conn.execute("ALTER TABLE outgoing_new RENAME TO outgoing")
    conn.execute(
        "CREATE TABLE relay (id INTEGER NOT NULL, list_id INTEGER NOT NULL, "
        "message_id VARCHAR NOT NULL, thread_id VARCHAR NOT NULL, route VARCHAR NOT NULL, "
        "target VARCHAR NOT NULL, direction VARCHAR NOT NULL, created FLOAT NOT NULL, "
        "outcome VARCHAR NOT NULL, outgoing_id INTEGER, PRIMARY KEY (id), "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.execute("CREATE INDEX ix_relay_outgoing_id ON relay(outgoing_id)")
    conn.execute("CREATE INDEX ix_relay_shared ON relay(list_id, target, thread_id)")
    conn.execute("CREATE INDEX ix_relay_message ON relay(list_id, message_id)")
    conn.execute("ALTER TABLE queue ADD COLUMN origin VARCHAR NOT NULL DEFAULT ''")


def _v3(conn: sqlite3.Connection) -> None:
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
        conn.execute(f"ALTER TABLE mlist ADD COLUMN {column}")
    for column in (
        "last_bounce FLOAT NOT NULL DEFAULT 0",
        "probe_sent FLOAT NOT NULL DEFAULT 0",
        # rows disabled before v3 were disabled by hand: mark them so
        "disabled_by VARCHAR NOT NULL DEFAULT ''",
    ):
        conn.execute(f"ALTER TABLE member ADD COLUMN {column}")
    conn.execute("UPDATE member SET disabled_by = 'admin' WHERE delivery_disabled")
    conn.execute(
        "CREATE TABLE token (id INTEGER NOT NULL, token VARCHAR NOT NULL, "
        "list_id INTEGER NOT NULL, address VARCHAR NOT NULL, action VARCHAR NOT NULL, "
        "name VARCHAR NOT NULL, expires FLOAT NOT NULL, created FLOAT NOT NULL, "
        "used FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (token), "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.execute("CREATE INDEX ix_token_list_id ON token (list_id)")
    conn.execute("CREATE INDEX ix_token_address ON token (address)")
    conn.execute(
        "CREATE TABLE robot_reply (id INTEGER NOT NULL, address VARCHAR NOT NULL, "
        "sent FLOAT NOT NULL, PRIMARY KEY (id))"
    )
    conn.execute("CREATE INDEX ix_robot_reply_address ON robot_reply (address)")
    conn.execute(
        "CREATE TABLE digest_item (id INTEGER NOT NULL, list_id INTEGER NOT NULL, "
        "message_id VARCHAR NOT NULL, raw BLOB NOT NULL, size INTEGER NOT NULL, "
        "created FLOAT NOT NULL, PRIMARY KEY (id), "
        "FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE)"
    )
    conn.execute("CREATE INDEX ix_digest_item_list_id ON digest_item (list_id)")


def _v4(conn: sqlite3.Connection) -> None:
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
        conn.execute(f"ALTER TABLE mlist ADD COLUMN {column}")
    conn.execute("ALTER TABLE member ADD COLUMN moderated BOOLEAN NOT NULL DEFAULT 0")
    # posts held before v4 keep waiting (0: no expiry); none of them had a notice either
    conn.execute("ALTER TABLE held ADD COLUMN expires FLOAT NOT NULL DEFAULT 0")


def _v5(conn: sqlite3.Connection) -> None:
    """The archive's full-text index and thread forest; archived bytes compressed.
    The text columns and threads of what is archived already are derived again."""
    for statement in ARCHIVE_COLUMNS:
        conn.execute(statement)
    last = 0
    while rows := conn.execute(
        "SELECT id, raw FROM archive WHERE id > ? ORDER BY id LIMIT 500", (last,)
    ).fetchall():
        conn.executemany(
            "UPDATE archive SET raw = ?, size = ? WHERE id = ?",
            [(compressed.pack(raw), len(raw), rid) for rid, raw in rows],
        )
        last = rows[-1][0]
    for statement in V5:
        conn.execute(statement)
    reindex.everything(conn)


def _v6(conn: sqlite3.Connection) -> None:
    """Bridges: each bridge's IMAP cursor and health, and what it sent (echo fingerprints)."""
    conn.execute(
        "CREATE TABLE bridge_state (name VARCHAR NOT NULL, uidvalidity INTEGER NOT NULL, "
        "last_uid INTEGER NOT NULL, state VARCHAR NOT NULL, last_error VARCHAR NOT NULL, "
        "last_error_at FLOAT NOT NULL, last_message FLOAT NOT NULL, taken INTEGER NOT NULL, "
        "sent INTEGER NOT NULL, updated FLOAT NOT NULL, PRIMARY KEY (name))"
    )
    conn.execute(
        "CREATE TABLE bridge_sent (id INTEGER NOT NULL, bridge VARCHAR NOT NULL, "
        "key VARCHAR NOT NULL, author VARCHAR NOT NULL, body_len INTEGER NOT NULL, "
        "body_hash VARCHAR NOT NULL, message_id VARCHAR NOT NULL, created FLOAT NOT NULL, "
        "PRIMARY KEY (id))"
    )
    conn.execute("CREATE INDEX ix_bridge_sent_key ON bridge_sent (bridge, key)")
    conn.execute("CREATE INDEX ix_bridge_sent_created ON bridge_sent (created)")


def _v7(conn: sqlite3.Connection) -> None:
    """A message's bytes once per intake, not once per recipient: the `spooled` table,
    which queue items and held posts refer to (db/schema_v7.py says how it is kept)."""
    for statement in V7:
        conn.execute(statement)


def _v8(conn: sqlite3.Connection) -> None:
    """One-click unsubscribe (RFC 8058), on unless a list turns it off."""
    conn.execute("ALTER TABLE mlist ADD COLUMN one_click BOOLEAN NOT NULL DEFAULT 1")


def _v9(conn: sqlite3.Connection) -> None:
    """Owners are told of each join and leave (SPEC §2), unless a list says not to."""
    conn.execute("ALTER TABLE mlist ADD COLUMN notify_owners BOOLEAN NOT NULL DEFAULT 1")


def _v10(conn: sqlite3.Connection) -> None:
    """Signing in to members archives on the web (SPEC §10): the links mailed, by hash."""
    conn.execute(
        "CREATE TABLE sign_in (id INTEGER NOT NULL, digest VARCHAR NOT NULL, "
        "address VARCHAR NOT NULL, expires FLOAT NOT NULL, created FLOAT NOT NULL, "
        "used FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (digest))"
    )
    conn.execute("CREATE INDEX ix_sign_in_address ON sign_in (address)")


def _v11(conn: sqlite3.Connection) -> None:
    """Posts removed from an archive (`archive delete`, `members forget --posts`)."""
    conn.execute(
        "CREATE TABLE archive_removed (id INTEGER NOT NULL, list_id INTEGER NOT NULL "
        "REFERENCES mlist (id) ON DELETE CASCADE, message_id VARCHAR NOT NULL, "
        "thread_id VARCHAR NOT NULL, removed FLOAT NOT NULL, reason VARCHAR NOT NULL, "
        "PRIMARY KEY (id), UNIQUE (list_id, message_id))"
    )


def _v12(conn: sqlite3.Connection) -> None:
    """What the node counts (db/stats.py): by day for `listfed report`, in all for
    /metrics."""
    for table, day in (("stat_day", "day INTEGER NOT NULL, "), ("stat_total", "")):
        keys = "day, name, a, b, c" if day else "name, a, b, c"
        conn.execute(
            f"CREATE TABLE {table} ({day}name VARCHAR NOT NULL, a VARCHAR NOT NULL, "
            "b VARCHAR NOT NULL, c VARCHAR NOT NULL, count INTEGER NOT NULL, "
            f"PRIMARY KEY ({keys})) WITHOUT ROWID"
        )


def _v13(conn: sqlite3.Connection) -> None:
    """A list's posts by date: the newest (Atom feed, list page) and a month's threads
    read an index range instead of sorting the whole archive (bench/web.py)."""
    conn.execute("CREATE INDEX ix_archive_list_date ON archive (list_id, date, id)")


def _v14(conn: sqlite3.Connection) -> None:
    """A list's members by delivery mode: "has the list digest members?", asked of every
    post, reads an index entry instead of every member (0.27 s a post at a million,
    bench/RESULTS.md's scale curve)."""
    conn.execute("CREATE INDEX ix_member_list_delivery ON member (list_id, delivery)")


def _v15(conn: sqlite3.Connection) -> None:
    """The ranked search index (archive/topk): each post archived, changed or removed is
    noted for the daemon to carry into it. Every post already archived is noted as of
    long ago, so that searches use FTS5 until the index holds them all."""
    for statement in V15:
        conn.execute(statement)
    conn.execute("INSERT INTO search_pending (post, at) SELECT id, 0 FROM archive")


def _v16(conn: sqlite3.Connection) -> None:
    """English stems: the archive's text indexed again by Porter's stems (db/schema_v16.py),
    filled from the archive here (0.5 s for 10,000 posts, bench/RESULTS.md)."""
    for statement in V16:
        conn.execute(statement)
    conn.execute(FILL)


def _v17(conn: sqlite3.Connection) -> None:
    """Members with a bounce score, by their last bounce: housekeeping's minute decay
    reads them alone instead of every member of the node (0.13 s a minute at a million,
    bench/RESULTS.md's scale curve). Partial: a member who never bounced is not in it."""
    conn.execute("CREATE INDEX ix_member_bouncing ON member (last_bounce) WHERE bounce_score > 0")


def _v18(conn: sqlite3.Connection) -> None:
    """Compression dictionaries (archive/zdict.py): messages archived from now on are
    packed with one made here from a sample of the archive (400 messages at most, so the
    step is short at any size). Rows already archived are not rewritten: they stay
    readable as they are, and `archive reindex` packs them again."""
    conn.execute(
        "CREATE TABLE zdict (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, "
        "data BLOB NOT NULL, made FLOAT NOT NULL)"
    )
    zdict.make(conn)


def _v19(conn: sqlite3.Connection) -> None:
    """The text packed, one index (db/schema_v19.py): the archive's index is made again
    over a view that reads the text through listfed_text and rebuilt from the archive
    (about 10 s at 100,000 posts); the index of stems goes, and the words of each stem
    are read from the index into stem_vocab (about a second). Rows already archived are
    not rewritten: `archive reindex` packs them, and a VACUUM then gives the space back."""
    for statement in V19:
        conn.execute(statement)
    stemvocab.rebuild(conn)


Step = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Step] = [
    *(
        _v1,
        _v2,
        _v3,
        _v4,
        _v5,
        _v6,
        _v7,
        _v8,
        _v9,
        _v10,
        _v11,
        _v12,
        _v13,
        _v14,
        _v15,
        _v16,
        _v17,
        _v18,
        _v19,
    )
]
SCHEMA_VERSION = len(MIGRATIONS)
assert SCHEMA_VERSION == version.SCHEMA_VERSION


def current_version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def upgrade(db: Database, migrations: list[Step] | None = None) -> int:
    """Bring the database to the newest schema, one committed step at a time (the
    daemon's and the ORM commands' way in: a connection of the database's writer)."""
    with db.autocommit() as conn:
        return upgrade_connection(conn, db.path, migrations)


def upgrade_file(path: Path, busy_timeout: float, migrations: list[Step] | None = None) -> int:
    """`upgrade` on a connection of its own, without the SQLAlchemy layer (`listfed
    init`, and the plain commands that find an older database)."""
    conn = opendb.connect(path, busy_timeout)
    try:
        return upgrade_connection(conn, path, migrations)
    finally:
        conn.close()


def upgrade_connection(
    conn: sqlite3.Connection, path: Path, migrations: list[Step] | None = None
) -> int:
    """`upgrade` on `conn` (autocommit mode, outside any transaction)."""
    steps = MIGRATIONS if migrations is None else migrations
    # A read outside any transaction takes no write lock: a command reading beside a busy
    # daemon does not wait for it when there is nothing to do.
    if _done(current_version(conn), len(steps), path):
        return len(steps)
    # Steps may rebuild tables: foreign keys are off meanwhile (SQLite's documented way;
    # the pragma has no effect inside a transaction) and checked before each commit.
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        while True:
            with transaction(conn, "BEGIN IMMEDIATE", "upgrade"):
                # read again under the write lock: another process may have upgraded
                version = current_version(conn)
                if _done(version, len(steps), path):
                    return version
                steps[version](conn)
                version += 1
                if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise StorageError(f"upgrade to version {version} broke a reference")
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(version),),
                )
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


def _done(version: int, newest: int, path: Path) -> bool:
    """Is a database of `version` at the newest schema? One newer is refused."""
    if version > newest:
        raise StorageError(
            f"{path} has schema version {version}, newer than this listfed "
            f"({newest}): upgrade listfed"
        )
    return version == newest
