"""A list's members with plain sqlite3: who is one, adding and removing them, the
standing the posting policy asks for. `db/members.py` reads them through SQLAlchemy;
the commands that change members (`members add`, `remove`, `set`, `forget`) and the pipeline's
hot path come here, so that they answer without loading the SQLAlchemy layer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Standing:
    """What the pipeline asks of a member: role, moderation, delivery (one plain query)."""

    role: str
    moderated: bool
    delivery_disabled: bool
    disabled_by: str


def _row(conn: sqlite3.Connection, columns: str, list_id: int, address: str) -> Any:
    """These columns of a member's row (`address` compared lower-cased), or None."""
    return conn.execute(
        f"SELECT {columns} FROM member WHERE list_id = ? AND address = ?",  # noqa: S608
        (list_id, address.lower()),
    ).fetchone()


def standing(conn: sqlite3.Connection, list_id: int, address: str) -> Standing | None:
    """A member's `Standing`, or None for a non-member (one indexed query)."""
    row = _row(conn, "role, moderated, delivery_disabled, disabled_by", list_id, address)
    return None if row is None else Standing(str(row[0]), bool(row[1]), bool(row[2]), str(row[3]))


@dataclass(frozen=True)
class Settings:
    """What `members set` changes, as stored."""

    id: int
    display_address: str
    delivery: str
    delivery_disabled: bool


def settings(conn: sqlite3.Connection, list_id: int, address: str) -> Settings | None:
    row = _row(conn, "id, display_address, delivery, delivery_disabled", list_id, address)
    return None if row is None else Settings(int(row[0]), str(row[1]), str(row[2]), bool(row[3]))


_COLUMNS = frozenset(
    ("role", "delivery", "name", "moderated", "delivery_disabled", "disabled_by",
     "bounce_score", "probe_sent")
)  # fmt: skip


def update(conn: sqlite3.Connection, member_id: int, changes: Mapping[str, object]) -> None:
    """Set some of a member's columns (role, delivery, name, moderation, delivery and
    bounce state)."""
    if not changes or not _COLUMNS.issuperset(changes):
        raise ValueError(f"not member settings: {sorted(changes)}")
    assignments = ", ".join(f"{column} = ?" for column in changes)
    conn.execute(
        f"UPDATE member SET {assignments} WHERE id = ?",  # noqa: S608 (our own names)
        (*changes.values(), member_id),
    )


def is_member(conn: sqlite3.Connection, list_id: int, address: str) -> bool:
    return _row(conn, "1", list_id, address) is not None


# every column of `Member`, its defaults written out (tests/test_cli_startup.py and
# tests/test_scale.py check a row added here against the model's own)
_INSERT = (
    "INSERT INTO member (list_id, address, display_address, name, role, delivery, "
    "bounce_score, delivery_disabled, last_failure, created, last_bounce, probe_sent, "
    "disabled_by, moderated) VALUES (?, ?, ?, ?, ?, ?, 0, 0, '', ?, 0, 0, '', 0)"
)


def insert(
    conn: sqlite3.Connection,
    list_id: int,
    address: str,
    name: str,
    role: str,
    delivery: str,
    created: float,
) -> int:
    """A new member (`address` as given; compared lower-cased), with delivery enabled,
    no bounces and no moderation; its id."""
    cursor = conn.execute(
        _INSERT, (list_id, address.lower(), address, name, role, delivery, created)
    )
    return int(cursor.lastrowid or 0)


def insert_many(
    conn: sqlite3.Connection,
    list_id: int,
    members: list[tuple[str, str]],
    role: str,
    delivery: str,
    created: float,
) -> None:
    """`insert` of many (address, name) at once (`members import` of a million)."""
    conn.executemany(
        _INSERT, [(list_id, a.lower(), a, name, role, delivery, created) for a, name in members]
    )


def ids_in(conn: sqlite3.Connection, list_id: int, addresses: list[str]) -> dict[str, int]:
    """The member row id of each of these addresses that is a member (as given -> id):
    a query per 500 (delivery's one-click look-up, every batch; `members import`)."""
    wanted = {a.lower(): a for a in addresses}
    found: dict[str, int] = {}
    names = list(wanted)
    for start in range(0, len(names), 500):  # SQLite's bound-parameter limit
        chunk = names[start : start + 500]
        marks = ",".join("?" * len(chunk))  # only placeholders are built here
        query = f"SELECT id, address FROM member WHERE list_id = ? AND address IN ({marks})"  # noqa: S608
        for member_id, address in conn.execute(query, (list_id, *chunk)):
            found[wanted[address]] = int(member_id)
    return found


def delete(conn: sqlite3.Connection, list_id: int, address: str) -> bool:
    """Remove a member; was it one?"""
    gone = conn.execute(
        "DELETE FROM member WHERE list_id = ? AND address = ?", (list_id, address.lower())
    )
    return gone.rowcount > 0


def unmoderate(conn: sqlite3.Connection, list_id: int, address: str) -> str | None:
    """Let a moderated member post freely; its address as given, or None when it is no
    moderated member."""
    row = conn.execute(
        "UPDATE member SET moderated = 0 WHERE list_id = ? AND address = ? AND moderated "
        "RETURNING display_address",
        (list_id, address.lower()),
    ).fetchone()
    return None if row is None else str(row[0])


def lists_of(conn: sqlite3.Connection, address: str) -> list[int]:
    """The ids of the lists `address` is a member of."""
    rows = conn.execute("SELECT list_id FROM member WHERE address = ?", (address.lower(),))
    return [int(row[0]) for row in rows]


def forget(conn: sqlite3.Connection, address: str) -> None:
    """Remove `address` from every list."""
    conn.execute("DELETE FROM member WHERE address = ?", (address.lower(),))
