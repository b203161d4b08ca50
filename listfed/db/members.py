"""Reading members: one member, a role (the posting policy's hot path), the owners or
moderators of a list, all members. Changing them is `ops.members`' job."""

from __future__ import annotations

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
