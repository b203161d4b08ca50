"""Reading lists: by address or id, their settings as a `ListInfo`, member counts.
Every layer reads lists through these; changing them is `ops.lists`' job."""

from __future__ import annotations

from sqlalchemy import Connection, func, text
from sqlmodel import Session, select

from listfed import listvalues
from listfed.addresses import split_address
from listfed.db.models import MailingList, Member
from listfed.errors import NotFound
from listfed.listinfo import (
    DigestFormat,
    DigestPeriod,
    ListInfo,
    NonmemberAction,
    Policy,
    Visibility,
)


def to_info(row: MailingList) -> ListInfo:
    assert row.id is not None
    return ListInfo(
        id=row.id,
        local=row.local,
        domain=row.domain,
        description=row.description,
        subject_prefix=row.subject_prefix,
        footer=row.footer,
        policy=Policy(row.policy),
        nonmember_action=NonmemberAction(row.nonmember_action),
        archive=row.archive,
        visibility=Visibility(row.visibility),
        max_message_size=row.max_message_size,
        reply_to=row.reply_to,
        dmarc=row.dmarc,
        bounce_threshold=row.bounce_threshold,
        digest_size=row.digest_size,
        digest_period=DigestPeriod(row.digest_period),
        digest_format=DigestFormat(row.digest_format),
        welcome_message=row.welcome_message,
        goodbye_message=row.goodbye_message,
        emergency=row.emergency,
        accept_these_nonmembers=listvalues.items(row.accept_these_nonmembers),
        hold_types=listvalues.items(row.hold_types),
        dmarc_always=listvalues.items(row.dmarc_always),
        dmarc_never=listvalues.items(row.dmarc_never),
        hold_expiry=row.hold_expiry,
        reply_to_override=row.reply_to_override,
        one_click=row.one_click,
        notify_owners=row.notify_owners,
    )


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
    """The id of a list, by one indexed query (the RCPT hot path)."""
    row = conn.execute(
        text("SELECT id FROM mlist WHERE local = :l AND domain = :d"), {"l": local, "d": domain}
    ).first()
    return int(row[0]) if row else None


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
