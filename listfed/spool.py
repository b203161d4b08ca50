"""Durable intake with group commit.

Each SMTP session hands over the queue rows of one message and waits; one writer commits
every message waiting at that moment in a single fsynced transaction. The sender gets its
250 only after that commit, so batching buys speed without weakening the promise.
A failed batch is retried message by message, so one bad message fails only itself.
"""

from __future__ import annotations

import asyncio
import logging

from listfed.db.engine import Database
from listfed.db.models import QueueItem
from listfed.errors import ListfedError, StorageError

log = logging.getLogger("listfed.intake")

Batch = list[tuple[list[QueueItem], "asyncio.Future[list[int]]"]]


class Spool:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: Batch = []
        self._flusher: asyncio.Task[None] | None = None

    async def store(self, items: list[QueueItem]) -> list[int]:
        """Commit the rows of one message; their ids, or StorageError (nothing stored)."""
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                ids = await self.db.run(self._commit, [items for items, _ in batch])
            except ListfedError as exc:
                if len(batch) == 1:
                    _, future = batch[0]
                    if not future.done():
                        future.set_exception(exc)
                    continue
                # One message may be the cause: give each its own transaction.
                self._waiting = [(items, fut) for items, fut in batch] + self._waiting
                await self._one_by_one(len(batch))
                continue
            for (_, future), message_ids in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(message_ids)

    async def _one_by_one(self, count: int) -> None:
        singles, self._waiting = self._waiting[:count], self._waiting[count:]
        for items, future in singles:
            try:
                ids = await self.db.run(self._commit, [items])
                if not future.done():
                    future.set_result(ids[0])
            except ListfedError as exc:
                if not future.done():
                    future.set_exception(exc)

    def _commit(self, messages: list[list[QueueItem]]) -> list[list[int]]:
        try:
            with self.db.write() as session:
                for items in messages:
                    session.add_all(items)
                session.flush()
                ids = [[item.id or 0 for item in items] for items in messages]
        except StorageError:
            raise
        except Exception as exc:  # anything else from SQLite is still "not stored"
            log.exception("spool commit failed")
            raise StorageError(f"could not store: {exc}") from exc
        return ids
