"""The intake worker: draining the intake queue through the pipeline and the robots.

A few messages share one transaction, each inside its own savepoint: one that fails (a
bug, bad data) is rolled back alone and retried a few times with a pause, then set aside
as "bad" for a human (`listfed queue ls`, `listfed queue retry ID`): never dropped.
Chunks stay small so that intake commits, which share the database thread (and go
before the pipeline's calls waiting there, db/thread.py), never wait long behind a
pass; and a pass that sees intake waiting commits after the message in hand, leaving
the rest (read and looked up already) to the next. Posts go through the pipeline; mail
to a list's other addresses goes to its robot (the table `ROBOTS`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from listfed import pipeline
from listfed.addresses import Kind
from listfed.bounces import handle as bounces
from listfed.bridges import inbox as bridge_inbox
from listfed.context import Context, NodeSettings
from listfed.db import intakefile, listrows, queue, spooled
from listfed.db.engine import Database, sqlite_of
from listfed.db.queue import Item
from listfed.errors import ListfedError
from listfed.heldlogs import Withheld, withheld
from listfed.listinfo import ListInfo
from listfed.lookups import Facts, Prechecks
from listfed.mail import trace
from listfed.mail.message import ParsedMessage, parse
from listfed.notices import owners
from listfed.post import Incoming, Origin, Post, make_post
from listfed.robots import request
from listfed.wakeup import first_of

log = logging.getLogger("listfed.pipeline")
# the loggers of the stages a pass runs: their lines wait for its commit (heldlogs.py)
PASS_LOGGERS = (
    "listfed.pipeline",
    "listfed.moderation",
    "listfed.federation",
    "listfed.robots",
    "listfed.bounces",
    "listfed.bridges",
    "listfed.digests",
)

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Peeked:
    """A message due next (a post, or mail to a robot), as read before the pass."""

    raw: bytes
    mail_from: str
    kind: str  # an addresses.Kind value
    mitigating: bool = False  # a post whose list mitigates DMARC: its policy is looked up

    @property
    def post(self) -> bool:
        return self.kind == Kind.POST.value


CHUNK = 20  # messages per transaction

Robot = Callable[[Context, Incoming], str]

ROBOTS: dict[str, Robot] = {
    Kind.REQUEST.value: request.handle,
    Kind.JOIN.value: request.handle,
    Kind.LEAVE.value: request.handle,
    Kind.CONFIRM.value: request.handle,
    Kind.OWNER.value: owners.forward,
    Kind.BOUNCES.value: bounces.handle,
    Kind.BRIDGE.value: bridge_inbox.handle,
}
HANDLED_KINDS = (Kind.POST.value, *ROBOTS)
# looked up before the pass (lookups.py): a post's DMARC policy, the DKIM signers of mail
# to a bridge; one that came after the look-up waits for the next pass
LOOKED_UP = (Kind.POST.value, Kind.BRIDGE.value)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        node: NodeSettings,
        delivered: Callable[[], None],
        clock: Callable[[], float] = time.time,
        prechecks: Prechecks | None = None,
        intake: Path | None = None,
    ) -> None:
        self.db = db
        # intake's own file (db/intakefile.py), where a daemon whose pipeline is this
        # process's only work commits what it accepts: queued before each peek
        self.intake = intake
        self._intake: sqlite3.Connection | None = None
        self._taken = 0
        self.node = node
        self.delivered = delivered  # wakes the delivery worker
        self.clock = clock
        self.prechecks = prechecks or Prechecks(None, None)
        self.wake = asyncio.Event()
        # the last pass's readings and look-ups by queue id, for the items it left
        # (and the bytes they were of, so that a queue id given again is read anew)
        self._kept: tuple[dict[int, ParsedMessage], dict[int, Facts], dict[int, bytes]]
        self._kept = ({}, {}, {})

    @staticmethod
    def _list(conn: sqlite3.Connection, item: Item, known: dict[int, ListInfo]) -> ListInfo:
        """The item's list, read once per chunk."""
        assert item.list_id is not None
        if item.list_id not in known:
            known[item.list_id] = listrows.by_id(conn, item.list_id)
        return known[item.list_id]

    def _post(
        self,
        conn: sqlite3.Connection,
        item: Item,
        raw: bytes,
        known: dict[int, ListInfo],
        facts: dict[int, Facts],
        read: dict[int, ParsedMessage],
    ) -> Post:
        post = make_post(
            item.id,
            self._list(conn, item, known),
            raw,
            item.mail_from,
            self.node.name,
            item.received,
            approved=item.approved,
            origin=Origin.stored(item.origin),
            message=read.get(item.id),
            spooled_id=item.spooled_id,
        )
        post.facts = facts.get(item.id, Facts())
        return post

    def _robot(
        self,
        s: Session,
        item: Item,
        raw: bytes,
        known: dict[int, ListInfo],
        read: dict[int, ParsedMessage],
        facts: dict[int, Facts],
    ) -> None:
        mail = Incoming(
            queue_id=item.id,
            kind=item.kind,
            lst=self._list(sqlite_of(s), item, known),
            raw=raw,
            mail_from=item.mail_from,
            detail=item.detail,
            received=item.received,
            message=read.get(item.id) or parse(raw, item.mail_from, self.node.name),
            rcpt=item.rcpt,
            facts=facts.get(item.id, Facts()),
        )
        said = ROBOTS[item.kind](Context(s, self.node, self.clock), mail)
        logging.getLogger("listfed.robots").info("%s: %s", mail.log_prefix(), said)

    def _due(self, conn: sqlite3.Connection, limit: int) -> list[Item]:
        return queue.due(conn, HANDLED_KINDS, self.clock(), limit)

    def peek(self, limit: int = CHUNK) -> dict[int, Peeked]:
        """What `process_due` will take next; for posts, whether their list mitigates
        DMARC (so that the From domain's policy matters)."""
        found: dict[int, Peeked] = {}
        self._take()
        with self.db.read_plain() as conn:
            known: dict[int, ListInfo] = {}
            items = self._due(conn, limit)
            raws = spooled.raws(conn, (item.spooled_id for item in items))
            for item in items:
                raw = raws.get(item.spooled_id)
                if raw is None:  # process_due says what is wrong (it must take it)
                    found[item.id] = Peeked(b"", item.mail_from, item.kind)
                    continue
                if item.kind != Kind.POST.value:
                    found[item.id] = Peeked(raw, item.mail_from, item.kind)
                    continue
                try:
                    mitigating = self._list(conn, item, known).dmarc != "none"
                except Exception:  # process_due fails this item alone, as for any bug
                    mitigating = False
                found[item.id] = Peeked(raw, item.mail_from, item.kind, mitigating)
        return found

    def _take(self) -> None:
        """Queue what intake committed to its own file since the last look, in one
        transaction that also records how far it took (so nothing is queued twice)."""
        if self.intake is None:
            return
        if self._intake is None:
            self._intake = intakefile.connect(self.intake, self.db.busy_timeout)
        if not intakefile.waiting(self._intake, self._taken):
            return
        with self.db.write_plain() as conn:
            self._taken = intakefile.take(self._intake, conn)

    def read(self, due: dict[int, Peeked]) -> dict[int, ParsedMessage]:
        """Each message read (`mail.message.parse`) before the pass, in a worker thread:
        no stranger's bytes are parsed while the write transaction is held. One this
        cannot read is read again in the pass, which fails it alone, as for any bug."""
        found: dict[int, ParsedMessage] = {}
        for queue_id, item in due.items():
            try:
                found[queue_id] = parse(item.raw, item.mail_from, self.node.name)
            except Exception:  # noqa: S112  # the pass reads it again and says why
                continue
        return found

    def process_due(
        self,
        limit: int = CHUNK,
        facts: dict[int, Facts] | None = None,
        read: dict[int, ParsedMessage] | None = None,
        peeked: Collection[int] | None = None,
    ) -> int:
        """Run up to `limit` due items through the pipeline or their robot; how many were
        taken. A post or mail to a bridge not in `facts`, or any item not `peeked` (it
        came after the peek), waits for the next pass; one in `read` is not parsed again.
        What the stages log is emitted once the pass committed (heldlogs.py)."""
        said = Withheld()
        try:
            with withheld(*PASS_LOGGERS) as said:
                taken = self._process(limit, facts, read, peeked)
        except Exception:
            if said.records:
                log.error(
                    "a pipeline pass did not commit: its %d logged decisions are void; "
                    "it runs again",
                    len(said.records),
                )
            raise
        said.release()
        return taken

    def _process(
        self,
        limit: int,
        facts: dict[int, Facts] | None,
        read: dict[int, ParsedMessage] | None,
        peeked: Collection[int] | None,
    ) -> int:
        with self.db.write() as s:
            conn = sqlite_of(s)
            items = self._due(conn, limit)
            if facts is not None:
                items = [i for i in items if i.kind not in LOOKED_UP or i.id in facts]
            if peeked is not None:  # not read off this thread yet: the next pass reads it
                items = [i for i in items if i.id in peeked]
            known: dict[int, ListInfo] = {}
            raws = spooled.raws(conn, (item.spooled_id for item in items))
            taken = 0
            for item in items:
                if taken and self.db.intake_waiting():
                    break  # a sender waits for its 250: the rest go in the next pass
                taken += 1
                try:
                    with s.begin_nested():
                        raw = raws.get(item.spooled_id)
                        if raw is None:  # never expected: the foreign key keeps it
                            raw = spooled.raw(s, item.spooled_id)
                        if item.kind == Kind.POST.value:
                            post = self._post(conn, item, raw, known, facts or {}, read or {})
                            pipeline.run(Context(s, self.node, self.clock), post)
                        else:
                            self._robot(s, item, raw, known, read or {}, facts or {})
                        s.flush()  # the stages' ORM changes, before the item goes
                        queue.done(conn, item.id)
                except Exception as exc:
                    log.exception("<%s> q%s: pipeline failed", item.message_id, item.id)
                    self._failed(conn, item, exc)
        return taken

    def _dkim_relay(self, message: ParsedMessage | None) -> bool:
        """Does the post's last trace hop name a peer trusted by its DKIM key?"""
        if message is None or not message.traces or message.signatures:
            return False
        hop = trace.last_hop(message.traces)
        return hop is not None and any(
            p.trust == "dkim" and p.node.casefold() == hop.node.casefold() for p in self.node.peers
        )

    def _failed(self, conn: sqlite3.Connection, item: Item, exc: Exception) -> None:
        attempts = item.attempts + 1
        bad = attempts >= MAX_ATTEMPTS
        error = f"{type(exc).__name__}: {exc}"
        queue.failed(conn, item.id, error, self.clock() + 30 * attempts, bad)
        if bad:
            log.error(
                "<%s> q%s: set aside as bad after %d attempts",
                item.message_id,
                item.id,
                attempts,
            )

    def pass_and_peek(
        self,
        limit: int,
        facts: dict[int, Facts],
        read: dict[int, ParsedMessage],
        peeked: Collection[int],
    ) -> tuple[int, dict[int, Peeked]]:
        """`process_due`, then (when it took any) `peek` for the next pass in the same call
        to the database thread: one hand-off a pass fewer."""
        taken = self.process_due(limit, facts, read, peeked)
        return taken, (self.peek(limit) if taken else {})

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        due: dict[int, Peeked] | None = None  # peeked with the last pass, after it
        while not stop.is_set():
            try:
                if due is None:
                    self.wake.clear()
                    due = await self.db.run(self.peek)
                if not due:  # a pass takes only what was peeked: it would take nothing
                    self._kept = ({}, {}, {})
                    due = None
                    await first_of(self.wake, stop, timeout=poll)
                    continue
                # what the last pass read and looked up but left for this one (it made
                # way for intake) is not read or looked up again: the same bytes under
                # the same queue id
                same = {i for i, p in due.items() if self._kept[2].get(i) == p.raw}
                kept_read = {i: m for i, m in self._kept[0].items() if i in same}
                kept_facts = {i: f for i, f in self._kept[1].items() if i in same}
                fresh = {i: p for i, p in due.items() if i not in kept_read}
                read = (await asyncio.to_thread(self.read, fresh) if fresh else {}) | kept_read
                posts = {
                    i: (p.raw, p.mitigating, self._dkim_relay(read.get(i)))
                    for i, p in due.items()
                    if p.post and i not in kept_facts
                }
                facts = await self.prechecks.all(posts)
                bridged = {
                    i: p.raw
                    for i, p in due.items()
                    if p.kind == Kind.BRIDGE.value and i not in kept_facts
                }
                facts |= await self.prechecks.all_signed(bridged)
                facts |= kept_facts
                self._kept = (read, facts, {i: p.raw for i, p in due.items()})
                # what is queued from now on, the peek after the pass sees (or wakes us)
                self.wake.clear()
                count, due = await self.db.run(self.pass_and_peek, CHUNK, facts, read, set(due))
            except ListfedError as exc:  # the database is busy or broken: try again later
                log.error("cannot run the pipeline now: %s", exc)
                count = 0
            except Exception:  # a bug must not stop every list until a restart
                log.exception("pipeline pass failed")
                count = 0
            if count:
                self.delivered()
                continue
            due = None
            await first_of(self.wake, stop, timeout=poll)
