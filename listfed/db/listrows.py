"""A list's stored row as `ListInfo`, and reading lists with plain sqlite3.

`db/lists.py` reads lists through SQLAlchemy, as every layer does; the commands that only
show lists (`lists ls`, `lists show`) read them here, so that they answer without
importing the SQLAlchemy layer (as `archive search` does, see archive/opendb.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import fields
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


def get(conn: sqlite3.Connection, address: str) -> tuple[ListInfo, int]:
    """One list with its member count; NotFound names the address."""
    local, domain = split_address(address)
    row = conn.execute(
        f"{_SELECT} WHERE local = ? AND domain = ?", (local.lower(), domain)
    ).fetchone()
    if row is None:
        raise NotFound(f"no list {local.lower()}@{domain}")
    return _counted(row)
