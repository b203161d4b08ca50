"""One-click unsubscribe in members' copies (RFC 8058, SPEC §10): where `[node] base_url`
is set and the list has `one_click` on, each member's copy of a post carries its own
`List-Unsubscribe` URL and `List-Unsubscribe-Post`, so each copy differs and goes in a
transaction of its own (delivery/worker.py); elsewhere many recipients share one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from listfed import oneclick
from listfed.context import NodeSettings
from listfed.db import listrows, memberrows
from listfed.db.engine import Database
from listfed.errors import NotFound
from listfed.mail.rawmail import RawMessage


class Personal(Protocol):
    """(list id, recipients) -> each member's two header fields; {}: the list does not
    use them. `possible` says, without the database, whether any list could."""

    def __call__(self, list_id: int, recipients: list[str]) -> dict[str, bytes]: ...

    def possible(self) -> bool: ...


FIELDS = ("List-Unsubscribe", "List-Unsubscribe-Post")


class _Lookup:
    def __init__(self, db: Database, node: Callable[[], NodeSettings]) -> None:
        self.db = db
        self.node = node

    def possible(self) -> bool:
        """Only a node with a base_url and a secret makes one-click copies: elsewhere
        delivery need not ask the database thread about every batch."""
        settings = self.node()
        return bool(settings.base_url and settings.secret)

    def __call__(self, list_id: int, recipients: list[str]) -> dict[str, bytes]:
        settings = self.node()
        if not settings.base_url or not settings.secret:
            return {}
        with self.db.read_plain() as conn:  # plain: delivery asks this of every batch
            try:
                lst = listrows.by_id(conn, list_id)
            except NotFound:  # deleted meanwhile: its mail goes as it is
                return {}
            if not lst.one_click:
                return {}
            found = memberrows.ids_in(conn, list_id, recipients)
        leave = lst.sub_address("leave")
        return {
            address: oneclick.headers(
                settings.base_url,
                oneclick.make(settings.secret, list_id, member_id, address),
                leave,
            )
            for address, member_id in found.items()
        }


def personal(db: Database, node: Callable[[], NodeSettings]) -> Personal:
    """The delivery worker's look-up, on the database thread: one query per batch."""
    return _Lookup(db, node)


def without_fields(data: bytes) -> bytes:
    """The copy for everyone, without the list's shared List-Unsubscribe fields."""
    msg = RawMessage.parse(data)
    for name in FIELDS:
        msg.remove(name)
    return msg.to_bytes()
