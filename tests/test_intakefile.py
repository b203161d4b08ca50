"""Intake's file of its own (`[node] processes = 2`, db/intakefile.py): a sender is
answered while the pipeline holds the database's write lock, and what intake committed
there is queued exactly once, whichever process takes it."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import aiosmtplib
import pytest

from listfed.config import Config
from listfed.db import intakefile
from listfed.db.queue import NewItem
from listfed.errors import StorageError
from listfed.listinfo import Policy
from listfed.migrations import upgrade
from listfed.ops import listings, lists, members
from listfed.ops.node import prepare
from listfed.service import Node, database_path
from tests.conftest import DOMAIN, RecordingSmarthost, make_config, post, running_world
from tests.test_courier import until

TEAM = f"team@{DOMAIN}"


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_sender_waits_for_no_lock_with_the_pipeline_in_its_own_process(
    tmp_path: Path, smarthost: RecordingSmarthost, processes: int
) -> None:
    """Another writer holds the database (a long pass, a command): with one process the
    sender is told to retry after [storage] busy_timeout; with two it gets its 250 at
    once, and the post goes out once the lock is free."""
    async with running_world(
        tmp_path, smarthost, node={"processes": processes}, storage={"busy_timeout": "1s"}
    ) as world:
        world.make_list(TEAM, Policy.OPEN, people=["m@example.net"])
        with closing(sqlite3.connect(database_path(world.node.config), isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            started = asyncio.get_running_loop().time()
            if processes == 1:
                with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                    await world.send(post(), TEAM)
                assert refused.value.code == 451
                db.execute("ROLLBACK")
                return
            await world.send(post(), TEAM)
            assert asyncio.get_running_loop().time() - started < 0.9  # not a lock's wait
            await asyncio.sleep(0.3)
            assert smarthost.deliveries() == []  # the pass waits for the lock meanwhile
            db.execute("ROLLBACK")
        await until(lambda: len(smarthost.deliveries()) == 1, "not delivered after the lock")
        path = intakefile.path_of(database_path(world.node.config))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # mail, like the database
        await world.idle()
    assert [r for r, _m in smarthost.deliveries()] == ["m@example.net"]


def item(list_id: int, n: int) -> NewItem:
    return NewItem(kind="post", list_id=list_id, rcpt=TEAM, received=1.0, message_id=f"<i{n}@x>")


def unstarted(
    tmp_path: Path, smarthost_port: int, people: list[str] | None = None
) -> tuple[Config, Node, int]:
    """A node not started, its database made, with the open list TEAM: (its config,
    the node, the list's id)."""
    config = make_config(tmp_path, smarthost_port)
    prepare(config)
    node = Node(config)
    upgrade(node.db)
    with node.db.write() as s:
        list_id = lists.create(s, TEAM, config.node.domains, Policy.OPEN).id
        if people:
            members.add(s, TEAM, people)
    return config, node, list_id


def test_a_take_queues_each_message_once(tmp_path: Path) -> None:
    _config, node, list_id = unstarted(tmp_path, 25)
    intake = intakefile.connect(tmp_path / "intake.db", 5.0)
    assert intakefile.store(intake, [(b"one", [item(list_id, 1)]), (b"two", [item(list_id, 2)])])
    with node.db.write_plain() as conn:
        assert intakefile.take(intake, conn) == 2
    intakefile.store(intake, [(b"three", [item(list_id, 3)])])
    with pytest.raises(RuntimeError):
        _take_and_fail(node, intake)
    with node.db.write_plain() as conn:
        assert intakefile.take(intake, conn) == 3  # the third, once more
        assert intakefile.take(intake, conn) == 3  # and nothing again
        queued = [
            bytes(r)
            for (r,) in conn.execute(
                "SELECT raw FROM spooled JOIN queue ON queue.spooled_id = spooled.id "
                "ORDER BY queue.id"
            )
        ]
        assert queued == [b"one", b"two", b"three"]
        upto = intakefile.taken(conn, intakefile.name(intake))
    assert intakefile.forget(intake, upto) == 3
    intake.close()
    # a file made anew (the old one removed by hand) counts its ids from 1 again: its
    # first message is taken, not skipped as if the old file's 3 still applied
    for old in tmp_path.glob("intake.db*"):
        old.unlink()
    intake = intakefile.connect(tmp_path / "intake.db", 5.0)
    assert intakefile.store(intake, [(b"four", [item(list_id, 4)])]) == [1]
    with node.db.write_plain() as conn:
        assert intakefile.take(intake, conn) == 1
        [(count,)] = conn.execute("SELECT COUNT(*) FROM queue").fetchall()
    assert count == 4
    node.db.close()


def test_mail_to_a_list_deleted_before_the_take_goes_with_the_list(tmp_path: Path) -> None:
    """As `lists delete` takes the list's queue with it: the take goes on past it."""
    _config, node, list_id = unstarted(tmp_path, 25)
    with node.db.write() as s:
        other = lists.create(s, f"other@{DOMAIN}", (DOMAIN,), Policy.OPEN).id
    intake = intakefile.connect(tmp_path / "intake.db", 5.0)
    intakefile.store(intake, [(b"gone", [item(other, 1)]), (b"kept", [item(list_id, 2)])])
    with node.db.write() as s:
        lists.delete(s, f"other@{DOMAIN}")
    with node.db.write_plain() as conn:
        assert intakefile.take(intake, conn) == 2
        queued = [bytes(r) for (r,) in conn.execute("SELECT raw FROM spooled")]
    assert queued == [b"kept"]
    node.db.close()


def _take_and_fail(node: Node, intake: sqlite3.Connection) -> None:
    """A pass that takes, then fails before its commit."""
    with node.db.write_plain() as conn:
        intakefile.take(intake, conn)
        raise RuntimeError("the pass died")


def test_queue_ls_shows_what_waits_in_intakes_file(tmp_path: Path) -> None:
    """Mail accepted while the pipeline's process is down is shown (`i…`), until the
    queue takes it."""
    config, node, list_id = unstarted(tmp_path, 25)
    path = intakefile.path_of(database_path(config))
    with closing(intakefile.connect(path, 5.0)) as intake:
        [stored] = intakefile.store(intake, [(b"x", [item(list_id, 7)])])
        with node.db.read_plain() as conn:
            [shown] = listings.queue(conn)
        assert shown["id"] == f"i{stored}" and shown["list"] == TEAM
        assert shown["message_id"] == "<i7@x>" and shown["recipients"] == [TEAM]
        assert "waiting for the pipeline's process" in shown["why"]
        with node.db.write_plain() as conn:
            intakefile.take(intake, conn)
        with node.db.read_plain() as conn:
            assert [d["id"][0] for d in listings.queue(conn)] == ["q"]  # queued now
    node.db.close()


async def test_a_node_of_one_process_takes_what_the_child_left(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """Mail a two-process run accepted but did not queue (stopped, then configured back
    to one process) is delivered, and intake's file emptied."""
    config, before, list_id = unstarted(tmp_path, smarthost.port, ["m@example.net"])
    before.db.close()
    path = intakefile.path_of(database_path(config))
    with closing(intakefile.connect(path, 5.0)) as intake:
        intakefile.store(
            intake, [(post(message_id=f"<left{n}@x>"), [item(list_id, n)]) for n in (1, 2)]
        )
    async with running_world(tmp_path, smarthost) as world:
        await until(lambda: len(smarthost.deliveries()) == 2, "what was left is not delivered")
        await world.idle()
        await until(lambda: world.untaken() == 0 and _rows(path) == 0, "the file is not emptied", 5)
    ids = sorted(str(m.message["Message-ID"]) for _r, m in smarthost.deliveries())
    assert ids == ["<left1@x>", "<left2@x>"]


def _rows(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM incoming").fetchone()[0])


async def test_an_unusable_intake_file_is_a_clear_error_at_start(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    config = make_config(tmp_path, smarthost.port, node={"processes": 2})
    prepare(config)
    path = intakefile.path_of(database_path(config))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database, and long enough to be read as one" * 100)
    node = Node(config)
    with pytest.raises(StorageError, match="cannot open intake's file"):
        await node.start()
    await node.stop(grace=0.1)
