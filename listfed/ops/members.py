"""Adding, changing and removing members.

Plain SQL (db/memberrows.py), so that `members add`, `remove` and `set` answer without
loading SQLAlchemy; a Session serves as well (db/plain.py).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from listfed.addresses import normalise
from listfed.archive import removal
from listfed.db import listrows, memberrows
from listfed.db.plain import Db, connection
from listfed.errors import InvalidAddress, NotFound, UsageError
from listfed.listinfo import DeliveryMode, Role
from listfed.mail.authors import first
from listfed.notices import replies
from listfed.ops import listings, lists

if TYPE_CHECKING:
    from listfed.context import NodeSettings
    from listfed.db.models import Member


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already members
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (input, why)


def parse_entry(entry: str) -> tuple[str, str]:
    """``"Name <a@b>"`` or ``"a@b"`` → (name, normalised address); InvalidAddress otherwise."""
    name, addr = first(entry.strip())
    if not addr or "@" not in addr:
        raise InvalidAddress(f"not a valid mail address: {entry.strip()!r}")
    return name, normalise(addr)


def add(
    db: Db,
    list_address: str,
    entries: list[str],
    role: Role = Role.MEMBER,
    delivery: DeliveryMode = DeliveryMode.REGULAR,
    *,
    welcome: NodeSettings | None = None,
    now: float | None = None,
) -> AddResult:
    """Add members; with `welcome` (the node, whose limits robot mail keeps), each new
    member is sent the list's welcome, as after a confirmed subscription."""
    conn = connection(db)
    info = listrows.find(conn, list_address)
    now = time.time() if now is None else now
    result = AddResult()
    # A chunk at a time: one look-up of who is a member already and one insert per
    # ADD_CHUNK entries (an import of a million addresses), memory bounded by the chunk.
    for start in range(0, len(entries), ADD_CHUNK):
        new = _new_in(conn, info.id, entries[start : start + ADD_CHUNK], result)
        memberrows.insert_many(conn, info.id, new, role.value, delivery.value, now)
        for address, _name in new:
            result.added.append(address)
            if welcome is not None:
                replies.welcome(conn, welcome, info, address, now)
    return result


ADD_CHUNK = 500  # entries per look-up and insert


def _new_in(
    conn: sqlite3.Connection, list_id: int, entries: list[str], result: AddResult
) -> list[tuple[str, str]]:
    """The entries to add, as (address, name), in order; the others noted in `result`:
    invalid, or already members (before this call, or earlier in it)."""
    parsed: list[tuple[str, str] | None] = []
    for entry in entries:
        try:
            name, address = parse_entry(entry)
        except InvalidAddress as exc:
            result.invalid.append((entry, str(exc)))
            parsed.append(None)
            continue
        parsed.append((address, name))
    known = {a.lower() for a in memberrows.ids_in(conn, list_id, [p[0] for p in parsed if p])}
    new = []
    for item in parsed:
        if item is None:
            continue
        key = item[0].lower()
        if key in known:
            result.skipped.append(item[0])
            continue
        known.add(key)
        new.append(item)
    return new


def forget(db: Db, address: str) -> list[str]:
    """Remove `address` from every list, with its pending confirmations, its web sign-in
    links and robot reply log; the lists it was on. (Its posts: forget_posts.)"""
    _, normal = parse_entry(address)
    key = normal.lower()
    conn = connection(db)
    left = [listrows.by_id(conn, list_id).address for list_id in memberrows.lists_of(conn, key)]
    memberrows.forget(conn, key)
    conn.execute("DELETE FROM token WHERE lower(address) = ?", (key,))
    conn.execute("DELETE FROM robot_reply WHERE address = ?", (key,))
    conn.execute("DELETE FROM sign_in WHERE address = ?", (key,))
    return sorted(left)


def forget_posts(db: Db, address: str, now: float) -> int:
    """Remove every archived post from `address` on every list (archive/removal.py);
    how many."""
    conn = connection(db)
    found = removal.by_sender(conn, parse_entry(address)[1])
    for list_id, message_id in found:
        removal.remove(conn, list_id, message_id, "members forget --posts", now)
    return len(found)


def remove(db: Db, list_address: str, addresses: list[str]) -> list[str]:
    """Remove members; NotFound names every address that was not a member."""
    conn = connection(db)
    info = listrows.find(conn, list_address)
    missing = [a for a in addresses if not memberrows.delete(conn, info.id, a.strip())]
    if missing:
        raise NotFound(f"not members of {info.address}: {', '.join(missing)}")
    return addresses


def set_value(db: Db, list_address: str, address: str, key: str, value: str) -> None:
    """Change one setting of a member (`members set`); UsageError for an unknown one."""
    conn = connection(db)
    info = listrows.find(conn, list_address)
    row = memberrows.settings(conn, info.id, address)
    if row is None:
        raise NotFound(f"{address} is not a member of {info.address}")
    if key == "role":
        changes: dict[str, object] = {"role": _enum(Role, value).value}
    elif key == "delivery":
        mode = _enum(DeliveryMode, value).value
        if row.delivery == DeliveryMode.DIGEST.value and mode != row.delivery:
            # Posts already collected would never reach them: send them now. (Loaded
            # here: the digest's formatting is more than the other settings need.)
            from listfed.digests import collect

            collect.send_to_leaver(conn, info, row.display_address, time.time())
        changes = {"delivery": mode}
    elif key == "name":
        changes = {"name": value}
    elif key == "moderated":
        changes = {"moderated": lists.parse_bool(value)}
    elif key == "delivery_disabled":
        off = lists.parse_bool(value)
        changes = {"delivery_disabled": off, "disabled_by": "admin" if off else ""}
        if not off:
            changes |= {"bounce_score": 0, "probe_sent": 0.0}  # SPEC §9: a fresh start
    else:
        raise UsageError(
            f"unknown member setting {key!r}; known: delivery, delivery_disabled, moderated, name, "
            "role"
        )
    memberrows.update(conn, row.id, changes)


def _enum(kind: Any, value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise UsageError(f"expected one of {allowed}, not {value!r}") from None


def describe(row: Member) -> dict[str, Any]:
    """The JSON shape of a member (SPEC §9)."""
    return listings.member_json(row.model_dump())
