"""Durable intake: the queue rows of a message are committed before the sender hears 250.

Messages from concurrent SMTP sessions share one fsynced transaction (group commit), so
batching buys speed without weakening the promise.
"""

from __future__ import annotations

from listfed.db import queue
from listfed.db.engine import Database
from listfed.db.queue import NewItem
from listfed.groupcommit import GroupCommit


class Spool:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._group: GroupCommit[list[NewItem], list[int]] = GroupCommit(db, self._commit)

    async def store(self, items: list[NewItem]) -> list[int]:
        """Commit the rows of one message; their ids, or StorageError (nothing stored)."""
        return await self._group.submit(items)

    def _commit(self, messages: list[list[NewItem]]) -> list[list[int]]:
        with self.db.write() as session:
            return [queue.insert(session, items) for items in messages]
