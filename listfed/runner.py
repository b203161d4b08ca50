"""Draining the intake queue through the pipeline, one transaction per message.

An item that fails (a bug, a full disk) is retried a few times with a pause, then set
aside as "bad" for a human (`listfed queue ls`, `listfed queue retry ID`): never dropped.
Items of kinds whose workers come in later issues (robots, bounces) wait in the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlmodel import col, select

from listfed import pipeline
from listfed.addresses import Kind
from listfed.db.engine import Database
from listfed.db.models import QueueItem
from listfed.message import parse
from listfed.ops import lists
from listfed.post import NodeSettings, Post
from listfed.wakeup import first_of

log = logging.getLogger("listfed.pipeline")

MAX_ATTEMPTS = 5
HANDLED_KINDS = (Kind.POST.value,)


class Runner:
    def __init__(
        self,
        db: Database,
        node: NodeSettings,
        delivered: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.node = node
        self.delivered = delivered  # wakes the delivery worker
        self.clock = clock
        self.wake = asyncio.Event()

    def _due(self, limit: int) -> list[int]:
        with self.db.read() as s:
            return [
                i
                for i in s.exec(
                    select(QueueItem.id)
                    .where(
                        QueueItem.state == "new",
                        col(QueueItem.kind).in_(HANDLED_KINDS),
                        QueueItem.next_attempt <= self.clock(),
                    )
                    .order_by(col(QueueItem.id))
                    .limit(limit)
                )
                if i is not None
            ]

    def process(self, item_id: int) -> None:
        """Run one queued post through the pipeline and consume it, all or nothing."""
        try:
            with self.db.write() as s:
                item = s.get(QueueItem, item_id)
                if item is None or item.list_id is None:
                    return
                raw = item.raw
                message = parse(raw, item.mail_from, self.node.name)
                if message.generated_id:
                    raw = f"Message-ID: <{message.message_id}>\r\n".encode() + raw
                post = Post(
                    queue_id=item_id,
                    lst=lists.by_id(s, item.list_id),
                    raw=raw,
                    mail_from=item.mail_from,
                    message=message,
                    received=item.received,
                    approved=item.approved,
                )
                pipeline.run(s, self.node, post)
                s.delete(item)
        except Exception as exc:
            log.exception("q%s: pipeline failed", item_id)
            self._failed(item_id, exc)

    def _failed(self, item_id: int, exc: Exception) -> None:
        with self.db.write() as s:
            item = s.get(QueueItem, item_id)
            if item is None:
                return
            item.attempts += 1
            item.last_error = f"{type(exc).__name__}: {exc}"[:500]
            item.next_attempt = self.clock() + 30 * item.attempts
            if item.attempts >= MAX_ATTEMPTS:
                item.state = "bad"
                log.error("q%s: set aside as bad after %d attempts", item_id, item.attempts)
            s.add(item)

    def process_due(self, limit: int = 100) -> int:
        ids = self._due(limit)
        for item_id in ids:
            self.process(item_id)
        return len(ids)

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        while not stop.is_set():
            self.wake.clear()
            count = await self.db.run(self.process_due)
            if count:
                self.delivered()
                continue
            await first_of(self.wake, stop, timeout=poll)
