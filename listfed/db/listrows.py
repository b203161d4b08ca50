"""A list's stored row as `ListInfo`, and lists with plain sqlite3.

`db/lists.py` reads lists through SQLAlchemy; the commands (`lists ls`, `lists show`,
`lists create`, `lists set`) and the hot paths read and write them here, so that they
answer without importing the SQLAlchemy layer (as `archive search` does, see
archive/opendb.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import fields
from enum import Enum
from typing import Any

from listfed import listinfo
from listfed.addresses import split_address
from listfed.errors import NotFound
from listfed.listinfo import ListInfo

# How a stored value becomes a field's, by the field's type: SQLite stores booleans as
# 0/1 and lists of items one per line; a field of a type not here fails at import.
_BY_TYPE: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "str | None": lambda value: value,
    "tuple[str, ...]": lambda value: stored_items(value),
    **{
        kind.__name__: kind
        for kind in (
            listinfo.Policy,
            listinfo.NonmemberAction,
            listinfo.Visibility,
            listinfo.DigestPeriod,
            listinfo.DigestFormat,
        )
    },
}
_READERS = {f.name: _BY_TYPE[str(f.type)] for f in fields(ListInfo)}
COLUMNS = tuple(_READERS)  # each field is a column of the mlist table
_BY_ID = f"SELECT {', '.join(COLUMNS)} FROM mlist WHERE id = ?"  # noqa: S608 (our own names)
_SELECT = (
    f"SELECT {', '.join(COLUMNS)}, "  # noqa: S608 (our own names)
    "(SELECT COUNT(*) FROM member WHERE member.list_id = mlist.id) FROM mlist"
)


def stored_items(stored: str) -> tuple[str, ...]:
    """A setting stored one item per line (accept_these_nonmembers, ...) as a tuple."""
    return tuple(line for line in stored.splitlines() if line.strip())


def info_from(row: Mapping[str, Any]) -> ListInfo:
    """The `ListInfo` of a row of the mlist table, given as its columns by name."""
    return ListInfo(**{name: read(row[name]) for name, read in _READERS.items()})


def _stored(value: Any) -> Any:
    """A field's value as the mlist table keeps it (the inverse of `_BY_TYPE`)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return "\n".join(value)
    return value


def _counted(row: tuple[Any, ...]) -> tuple[ListInfo, int]:
    return info_from(dict(zip(COLUMNS, row, strict=False))), int(row[-1])


def id_of(conn: sqlite3.Connection, local: str, domain: str) -> int | None:
    """The id of a list, by one indexed query (the RCPT hot path)."""
    row = conn.execute("SELECT id FROM mlist WHERE local = ? AND domain = ?", (local, domain))
    found = row.fetchone()
    return int(found[0]) if found else None


def by_id(conn: sqlite3.Connection, list_id: int) -> ListInfo:
    """One list by id (the pipeline's hot path: one indexed query, no ORM)."""
    row = conn.execute(_BY_ID, (list_id,)).fetchone()
    if row is None:
        raise NotFound(f"no list with id {list_id}")
    return info_from(dict(zip(COLUMNS, row, strict=True)))


def all_lists(conn: sqlite3.Connection) -> list[tuple[ListInfo, int]]:
    """Every list with its member count, by domain then name."""
    return [_counted(row) for row in conn.execute(f"{_SELECT} ORDER BY domain, local")]


def find(conn: sqlite3.Connection, address: str) -> ListInfo:
    """One list by address; NotFound names the address."""
    local, domain = split_address(address)
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM mlist WHERE local = ? AND domain = ?",  # noqa: S608
        (local.lower(), domain),
    ).fetchone()
    if row is None:
        raise NotFound(f"no list {local.lower()}@{domain}")
    return info_from(dict(zip(COLUMNS, row, strict=True)))


def insert(conn: sqlite3.Connection, info: ListInfo, created: float) -> int:
    """A new list with `info`'s settings (its id is not used); the new id."""
    names = [name for name in COLUMNS if name != "id"]
    cursor = conn.execute(
        f"INSERT INTO mlist ({', '.join(names)}, created) "  # noqa: S608 (our own names)
        f"VALUES ({', '.join('?' * (len(names) + 1))})",
        [*(_stored(getattr(info, name)) for name in names), created],
    )
    return int(cursor.lastrowid or 0)


def update(conn: sqlite3.Connection, list_id: int, column: str, stored: Any) -> None:
    """Set one setting of a list, as the table keeps it (`column` is one of COLUMNS)."""
    if column not in COLUMNS:
        raise ValueError(f"not a list setting: {column!r}")
    conn.execute(f"UPDATE mlist SET {column} = ? WHERE id = ?", (stored, list_id))  # noqa: S608


def delete(conn: sqlite3.Connection, list_id: int) -> None:
    """Delete a list; its members, held posts, queue and archive go with it (cascade)."""
    conn.execute("DELETE FROM mlist WHERE id = ?", (list_id,))


def get(conn: sqlite3.Connection, address: str) -> tuple[ListInfo, int]:
    """One list with its member count; NotFound names the address."""
    local, domain = split_address(address)
    row = conn.execute(
        f"{_SELECT} WHERE local = ? AND domain = ?", (local.lower(), domain)
    ).fetchone()
    if row is None:
        raise NotFound(f"no list {local.lower()}@{domain}")
    return _counted(row)
