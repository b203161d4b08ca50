"""The intake queue's one way in: every message that a worker (the pipeline or a robot)
must take, whether SMTP intake spooled it, a route or a bridge of this node relayed it
here, or a moderator released it from the hold queue, is inserted here.

A message's bytes are stored once (db/spooled.py), however many items (one per
recipient) it is queued as."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from listfed.db import sequence, spooled
from listfed.db.engine import sqlite_of

_INSERT = (
    "INSERT INTO queue (id, kind, list_id, rcpt, detail, mail_from, message_id, spooled_id, "
    "received, approved, origin, state, attempts, next_attempt, last_error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', 0, ?, '')"
)


@dataclass(frozen=True)
class NewItem:
    """One recipient's item of a message for the intake queue (its bytes go apart)."""

    kind: str  # an addresses.Kind value
    list_id: int | None
    rcpt: str  # the address it was accepted for
    received: float
    mail_from: str = ""
    message_id: str = ""
    detail: str = ""  # the token of -confirm+TOKEN, the VERP part of -bounces+X
    approved: bool = False  # released from the hold queue: past the posting policy
    origin: str = ""  # post.Origin's stored form: relayed here by a route or bridge
    not_before: float = 0.0  # taken no earlier than this (a bridge's direct copy waits)


def insert(session: Session, raw: bytes, items: Sequence[NewItem]) -> list[int]:
    """Queue the items of one message in the session's transaction, its bytes stored
    once; their queue ids, in order. No items: nothing is stored."""
    if not items:
        return []
    return insert_stored(session, spooled.store(session, raw), items)


def insert_stored(session: Session, spooled_id: int, items: Sequence[NewItem]) -> list[int]:
    """Queue items of a message whose bytes are stored already (a held post's)."""
    cursor = sqlite_of(session).cursor()
    first = sequence.reserve(cursor, "queue", len(items))  # never an id given before
    ids = []
    for queue_id, item in enumerate(items, first):
        cursor.execute(
            _INSERT,
            (
                queue_id,
                item.kind,
                item.list_id,
                item.rcpt,
                item.detail,
                item.mail_from,
                item.message_id,
                spooled_id,
                item.received,
                item.approved,
                item.origin,
                item.not_before,
            ),
        )
        ids.append(queue_id)
    return ids
