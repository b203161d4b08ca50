"""Reading members: one member, a role (the posting policy's hot path), the owners or
moderators of a list, all members. Changing them is `ops.members`' job."""

from __future__ import annotations

import sqlite3

from sqlmodel import Session, col, select

from listfed.db import memberrows
from listfed.db.engine import sqlite_of
from listfed.db.lists import get
from listfed.db.memberrows import Standing
from listfed.db.models import Member
from listfed.listinfo import Role


def find(session: Session, list_id: int, address: str) -> Member | None:
    query = select(Member).where(Member.list_id == list_id, Member.address == address.lower())
    return session.exec(query).first()


def standing(session: Session, list_id: int, address: str) -> Standing | None:
    """A member's `Standing`, or None for a non-member (the posting policy's hot path:
    one indexed query, no ORM object)."""
    return memberrows.standing(sqlite_of(session), list_id, address)


def with_role(session: Session, list_id: int, role: Role) -> list[str]:
    """The addresses of the members with `role` (owners, moderators), as given."""
    query = select(Member.display_address).where(
        Member.list_id == list_id, Member.role == role.value
    )
    return list(session.exec(query.order_by(col(Member.id))))


def all_members(session: Session, list_address: str) -> list[Member]:
    info = get(session, list_address)
    query = select(Member).where(Member.list_id == info.id).order_by(col(Member.address))
    return list(session.exec(query))


def ids_of(session: Session, list_id: int, addresses: list[str]) -> dict[str, int]:
    """The member row id of each of these addresses that is a member (as given -> id)."""
    return ids_in(sqlite_of(session), list_id, addresses)


def ids_in(conn: sqlite3.Connection, list_id: int, addresses: list[str]) -> dict[str, int]:
    """`ids_of` on a plain connection (delivery's one-click look-up, every batch)."""
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
