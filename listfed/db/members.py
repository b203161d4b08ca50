"""Reading members: one member, a role (the posting policy's hot path), the owners or
moderators of a list, all members. Changing them is `ops.members`' job."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, col, select

from listfed.db.lists import get
from listfed.db.models import Member
from listfed.listinfo import Role


def find(session: Session, list_id: int, address: str) -> Member | None:
    query = select(Member).where(Member.list_id == list_id, Member.address == address.lower())
    return session.exec(query).first()


def member_role(session: Session, list_id: int, address: str) -> str | None:
    """The role of a member, or None for a non-member (one indexed query: the hot path)."""
    row = (
        session.connection()
        .execute(
            text("SELECT role FROM member WHERE list_id = :l AND address = :a"),
            {"l": list_id, "a": address.lower()},
        )
        .first()
    )
    return str(row[0]) if row else None


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
    wanted = {a.lower(): a for a in addresses}
    found: dict[str, int] = {}
    names = list(wanted)
    for start in range(0, len(names), 500):  # SQLite's bound-parameter limit
        chunk = names[start : start + 500]
        query = select(Member.id, Member.address).where(
            Member.list_id == list_id, col(Member.address).in_(chunk)
        )
        for member_id, address in session.exec(query):
            if member_id is not None:
                found[wanted[address]] = member_id
    return found
