"""Durable intake: the queue rows of a message are committed before the sender hears 250.

Messages from concurrent SMTP sessions share one fsynced transaction (group commit), so
batching buys speed without weakening the promise.
"""

from __future__ import annotations

from listfed.db.engine import Database
from listfed.db.models import QueueItem
from listfed.groupcommit import GroupCommit


class Spool:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._group: GroupCommit[list[QueueItem], list[int]] = GroupCommit(db, self._commit)

    async def store(self, items: list[QueueItem]) -> list[int]:
        """Commit the rows of one message; their ids, or StorageError (nothing stored)."""
        return await self._group.submit(items)

    def _commit(self, messages: list[list[QueueItem]]) -> list[list[int]]:
        with self.db.write() as session:
            for items in messages:
                session.add_all(items)
            session.flush()
            return [[item.id or 0 for item in items] for items in messages]
