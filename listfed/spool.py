"""Durable intake: a message and its queue rows are committed before the sender hears 250.

Messages from concurrent SMTP sessions share one fsynced transaction (group commit), so
batching buys speed without weakening the promise. A message's bytes are written once,
whatever the number of its recipients.
"""

from __future__ import annotations

from listfed.db import queue
from listfed.db.engine import Database
from listfed.db.queue import NewItem
from listfed.groupcommit import GroupCommit

Message = tuple[bytes, list[NewItem]]  # the bytes, and one item per distinct recipient


class Spool:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._group: GroupCommit[Message, list[int]] = GroupCommit(db, self._commit, first=True)

    async def store(self, raw: bytes, items: list[NewItem]) -> list[int]:
        """Commit one message; its items' ids, or StorageError (nothing stored)."""
        return await self._group.submit((raw, items))

    def _commit(self, messages: list[Message]) -> list[list[int]]:
        with self.db.write_plain() as conn:
            return [queue.insert_plain(conn, raw, items) for raw, items in messages]
