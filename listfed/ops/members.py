"""Adding, listing, changing and removing members."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from listfed.addresses import normalise
from listfed.archive import removal
from listfed.context import NodeSettings
from listfed.db import lists as stored_lists
from listfed.db.engine import sqlite_of
from listfed.db.members import find, ids_of
from listfed.db.models import Member
from listfed.digests import collect
from listfed.errors import InvalidAddress, NotFound, UsageError
from listfed.listinfo import DeliveryMode, Role
from listfed.mail.authors import first
from listfed.notices import replies
from listfed.ops import listings, lists


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
    session: Session,
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
    info = stored_lists.get(session, list_address)
    now = time.time() if now is None else now
    result = AddResult()
    session.flush()  # pending ORM changes go before the plain statements below
    conn = sqlite_of(session)
    # A chunk at a time: one look-up of who is a member already and one insert per
    # ADD_CHUNK entries (an import of a million addresses), memory bounded by the chunk.
    for start in range(0, len(entries), ADD_CHUNK):
        new = _new_in(session, info.id, entries[start : start + ADD_CHUNK], result)
        conn.executemany(
            _INSERT,
            [(info.id, a.lower(), a, name, role.value, delivery.value, now) for a, name in new],
        )
        for address, _name in new:
            result.added.append(address)
            if welcome is not None:
                replies.welcome(session, welcome, info, address, now)
    return result


ADD_CHUNK = 500  # entries per look-up and insert (SQLite's bound-parameter limit)

# Every column of `Member`, its defaults written out (tests/test_members_add.py checks
# a row added here against the model's own).
_INSERT = (
    "INSERT INTO member (list_id, address, display_address, name, role, delivery, created, "
    "bounce_score, delivery_disabled, last_failure, last_bounce, probe_sent, disabled_by, "
    "moderated) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, '', 0, 0, '', 0)"
)


def _new_in(
    session: Session, list_id: int, entries: list[str], result: AddResult
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
    known = {a.lower() for a in ids_of(session, list_id, [p[0] for p in parsed if p])}
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


def forget(session: Session, address: str) -> list[str]:
    """Remove `address` from every list, with its pending confirmations, its web sign-in
    links and robot reply log; the lists it was on. (Its posts: forget_posts.)"""
    _, normal = parse_entry(address)
    key = normal.lower()
    rows = session.exec(select(Member).where(Member.address == key)).all()
    left = []
    for row in rows:
        left.append(stored_lists.by_id(session, row.list_id).address)
        session.delete(row)
    conn = session.connection()
    conn.execute(text("DELETE FROM token WHERE lower(address) = :a"), {"a": key})
    conn.execute(text("DELETE FROM robot_reply WHERE address = :a"), {"a": key})
    conn.execute(text("DELETE FROM sign_in WHERE address = :a"), {"a": key})
    return sorted(left)


def forget_posts(session: Session, address: str, now: float) -> int:
    """Remove every archived post from `address` on every list (archive/removal.py);
    how many."""
    conn = sqlite_of(session)
    found = removal.by_sender(conn, parse_entry(address)[1])
    for list_id, message_id in found:
        removal.remove(conn, list_id, message_id, "members forget --posts", now)
    return len(found)


def remove(session: Session, list_address: str, addresses: list[str]) -> list[str]:
    """Remove members; NotFound names every address that was not a member."""
    info = stored_lists.get(session, list_address)
    missing = []
    for address in addresses:
        row = find(session, info.id, address.strip())
        if row is None:
            missing.append(address)
        else:
            session.delete(row)
    if missing:
        raise NotFound(f"not members of {info.address}: {', '.join(missing)}")
    return addresses


def set_value(session: Session, list_address: str, address: str, key: str, value: str) -> Member:
    info = stored_lists.get(session, list_address)
    row = find(session, info.id, address)
    if row is None:
        raise NotFound(f"{address} is not a member of {info.address}")
    if key == "role":
        row.role = _enum(Role, value).value
    elif key == "delivery":
        mode = _enum(DeliveryMode, value).value
        if row.delivery == DeliveryMode.DIGEST.value and mode != row.delivery:
            # Posts already collected would never reach them: send them now.
            collect.send_to_leaver(session, info, row.display_address, time.time())
        row.delivery = mode
    elif key == "name":
        row.name = value
    elif key == "moderated":
        row.moderated = lists.parse_bool(value)
    elif key == "delivery_disabled":
        row.delivery_disabled = lists.parse_bool(value)
        row.disabled_by = "admin" if row.delivery_disabled else ""
        if not row.delivery_disabled:
            row.bounce_score = 0  # SPEC §9: re-enabling resets the score
            row.probe_sent = 0.0
    else:
        raise UsageError(
            f"unknown member setting {key!r}; known: delivery, delivery_disabled, moderated, name, "
            "role"
        )
    session.add(row)
    session.flush()
    return row


def _enum(kind: Any, value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise UsageError(f"expected one of {allowed}, not {value!r}") from None


def describe(row: Member) -> dict[str, Any]:
    """The JSON shape of a member (SPEC §9)."""
    return listings.member_json(row.model_dump())
