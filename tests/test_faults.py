"""When the store fails under delivery (issue 22: a full disk): nothing delivered is sent
again because its outcome could not be written; delivery pauses, says so once, and
resumes when the database takes writes again.

A full disk cannot be made safely on a shared machine, so the write transactions of the
delivery worker or the dispatcher fail at commit as on a full disk while `full` is set;
everything else (SMTP in and out, the database) is real."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from listfed.errors import StorageError
from listfed.listinfo import Policy
from tests.conftest import DOMAIN, RecordingSmarthost, post, running_world

TEAM = f"team@{DOMAIN}"
PEOPLE = [f"m{n}@example.org" for n in range(5)]


async def test_a_full_disk_pauses_delivery_instead_of_sending_again(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE)
        store = FullOnCommit(w.node.deliverer.db)  # delivery's writes fail at commit
        w.node.deliverer.db = store
        caplog.set_level(logging.INFO, logger="listfed.delivery")
        await w.send(post("One", to=TEAM, message_id="<one@x>"), TEAM)
        for _ in range(60):  # the copies go out once...
            if len(smarthost.deliveries()) >= len(PEOPLE):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(3.0)  # ...and, in three seconds of a full disk, never again
        sent = Counter(rcpt for rcpt, _ in smarthost.deliveries())
        assert sent == Counter(PEOPLE)
        paused = [r for r in caplog.records if "delivery pauses" in r.getMessage()]
        assert len(paused) == 1  # said once, not once a second

        store.full = False  # the disk has room again
        await w.idle(timeout=40)
        assert Counter(rcpt for rcpt, _ in smarthost.deliveries()) == Counter(PEOPLE)
        assert any("delivery resumes" in r.getMessage() for r in caplog.records)
        # and what comes next is delivered as usual, once
        await w.send(post("Two", to=TEAM, message_id="<two@x>"), TEAM)
        await w.idle()
        assert len(smarthost.deliveries()) == 2 * len(PEOPLE)


class FullOnCommit:
    """The dispatcher's database, whose write transactions fail at commit while `full`."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.full = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.db.write() as session:
            yield session
            if self.full:
                raise StorageError("database or disk is full")

    @contextmanager
    def write_plain(self) -> Iterator[Any]:  # the same, for the hot paths' plain writes
        with self.db.write_plain() as conn:
            yield conn
            if self.full:
                raise StorageError("database or disk is full")


async def test_a_pass_that_does_not_commit_logs_no_verdict(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE[:2])
        store = FullOnCommit(w.node.dispatcher.db)
        w.node.dispatcher.db = store
        caplog.set_level(logging.INFO)
        await w.send(post("Kept", to=TEAM, message_id="<kept@x>"), TEAM)
        await asyncio.sleep(2.5)  # passes run and fail to commit
        said = [r.getMessage() for r in caplog.records if r.name == "listfed.pipeline"]
        assert not [m for m in said if "<kept@x>" in m]  # no verdict that did not happen
        assert any("did not commit" in m and "void" in m for m in said)
        assert smarthost.deliveries() == []

        store.full = False
        await w.idle()
        said = [r.getMessage() for r in caplog.records if r.name == "listfed.pipeline"]
        assert len([m for m in said if "<kept@x>" in m and " accept" in m]) == 1
        assert len(smarthost.deliveries()) == 2


async def test_one_outcome_that_cannot_be_written_does_not_stop_delivery(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug that fails one batch's bookkeeping while the store takes other writes: that
    batch is given up (its copies may go again), and delivery goes on."""
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE[:2])
        deliverer = w.node.deliverer
        real = deliverer._record
        poisoned: set[int] = set()

        def record(session: Any, outcome: Any) -> None:
            if not poisoned:
                poisoned.add(outcome.batch.outgoing_id)
            if outcome.batch.outgoing_id in poisoned:
                raise ValueError("a bug in the bookkeeping of this one batch")
            real(session, outcome)

        deliverer._record = record  # type: ignore[method-assign]
        caplog.set_level(logging.ERROR, logger="listfed.delivery")
        await w.send(post("Poisoned", to=TEAM, message_id="<bad@x>"), TEAM)
        await asyncio.sleep(1.0)
        await w.send(post("Fine", to=TEAM, message_id="<fine@x>"), TEAM)
        for _ in range(200):  # the second post gets through, bounded
            if any(m.message["Message-ID"] == "<fine@x>" for _r, m in smarthost.deliveries()):
                break
            await asyncio.sleep(0.1)
        fine = [r for r, m in smarthost.deliveries() if m.message["Message-ID"] == "<fine@x>"]
        assert sorted(fine) == PEOPLE[:2]
        said = [r.getMessage() for r in caplog.records]
        assert any("this outcome cannot be recorded (others can)" in m for m in said)
