"""Reading lists: by address or id, their settings as a `ListInfo`, member counts.
Every layer reads lists through these; changing them is `ops.lists`' job."""

from __future__ import annotations

import sqlite3

from sqlalchemy import Connection, func
from sqlmodel import Session, select

from listfed.addresses import split_address
from listfed.db import listrows
from listfed.db.listrows import COLUMNS, info_from
from listfed.db.models import MailingList, Member
from listfed.errors import NotFound
from listfed.listinfo import ListInfo


def to_info(row: MailingList) -> ListInfo:
    return info_from({name: getattr(row, name) for name in COLUMNS})


def find_row(session: Session, address: str) -> MailingList:
    local, domain = split_address(address)
    row = session.exec(
        select(MailingList).where(MailingList.local == local.lower(), MailingList.domain == domain)
    ).first()
    if row is None:
        raise NotFound(f"no list {local.lower()}@{domain}")
    return row


def get(session: Session, address: str) -> ListInfo:
    return to_info(find_row(session, address))


def id_of(conn: Connection, local: str, domain: str) -> int | None:
    """The id of a list, by one indexed query."""
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, sqlite3.Connection)
    return listrows.id_of(dbapi, local, domain)


def exists(session: Session, local: str, domain: str) -> bool:
    return id_of(session.connection(), local, domain) is not None


def by_id(session: Session, list_id: int) -> ListInfo:
    row = session.get(MailingList, list_id)
    if row is None:
        raise NotFound(f"no list with id {list_id}")
    return to_info(row)


def member_count(session: Session, list_id: int) -> int:
    query = select(func.count()).select_from(Member).where(Member.list_id == list_id)
    return int(session.exec(query).one())


def all_lists(session: Session) -> list[tuple[ListInfo, int]]:
    rows = session.exec(select(MailingList).order_by(MailingList.domain, MailingList.local))
    return [(to_info(r), member_count(session, r.id or 0)) for r in rows]
