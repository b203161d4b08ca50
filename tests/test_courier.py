"""The pipeline and delivery in a process of their own (`[node] processes = 2`,
listfed/courier/): the child passes and delivers over real SMTP, is restarted after
SIGKILL without losing or doubling more than the batch in flight, and never outlives
the daemon; intake answers while the child holds the database's write lock."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from listfed.courier.__main__ import read_settings
from listfed.courier.supervisor import settings_of
from listfed.db import stats
from listfed.errors import ConfigError
from listfed.listinfo import Policy
from tests.conftest import (
    DOMAIN,
    RecordingSmarthost,
    World,
    make_config,
    post,
    running_world,
)
from tests.test_restart import Daemon, post_to, setup_node, wait_for

TEAM = f"team@{DOMAIN}"
CHILD = {"processes": 2}


def alive(pid: int) -> bool:
    """Is `pid` a process that has not ended (a zombie has)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def until(test: object, what: str, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if test():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


def child_pid(world: World) -> int:
    courier = world.node.pipeline
    assert courier is not None and courier.process is not None
    return courier.process.pid


async def send_posts(world: World, count: int) -> list[str]:
    ids = []
    for i in range(count):
        message_id = f"<p{i}@example.net>"
        await world.send(post(subject=f"post {i}", message_id=message_id), TEAM)
        ids.append(message_id)
    return ids


def copies(smarthost: RecordingSmarthost) -> Counter[tuple[str, str]]:
    return Counter((r, str(m.message["Message-ID"])) for r, m in smarthost.deliveries())


async def test_the_child_process_delivers_and_records_outcomes(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    people = [f"m{i}@example.net" for i in range(3)]
    async with running_world(tmp_path, smarthost, node=CHILD) as world:
        assert world.node.deliverer is None  # nothing is sent from the daemon's loop
        world.make_list(TEAM, Policy.OPEN, people=people)
        await until(lambda: world.node.pipeline and world.node.pipeline.process, "no child")
        assert child_pid(world) != os.getpid()
        ids = await send_posts(world, 5)
        await until(lambda: len(smarthost.deliveries()) >= 15, "not delivered")
        await world.idle()  # the child recorded every outcome: the outbox is empty
        with world.node.db.read_plain() as conn:
            sent = sum(
                n for _d, outcome, _c, n in stats.totals(conn, "delivery") if outcome == "accepted"
            )
    assert copies(smarthost) == Counter({(p, i): 1 for p in people for i in ids})
    assert sent == 15  # what /metrics and `listfed report` read


async def test_a_refused_member_is_scored_by_the_child(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    smarthost.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith("gone") else None
    async with running_world(tmp_path, smarthost, node=CHILD) as world:
        world.make_list(TEAM, Policy.OPEN, people=["gone@example.net", "here@example.net"])
        await send_posts(world, 1)
        await world.idle()
        with world.node.db.read_plain() as conn:
            (score,) = conn.execute(
                "SELECT bounce_score FROM member WHERE address = 'gone@example.net'"
            ).fetchone()
            failed = conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'failed'").fetchone()
    assert score > 0 and failed == (1,)
    assert [r for r, _m in smarthost.deliveries()] == ["here@example.net"]


async def test_a_killed_child_is_restarted_and_nothing_is_lost(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    original = smarthost.handle_DATA

    async def slow_data(*args: object) -> str:
        await asyncio.sleep(0.2)  # 20 transactions on 4 connections: about a second
        return await original(*args)  # type: ignore[arg-type]

    smarthost.handle_DATA = slow_data  # type: ignore[method-assign]
    people = [f"m{i:02d}@example.net" for i in range(20)]
    async with running_world(tmp_path, smarthost, node=CHILD) as world:
        world.make_list(TEAM, Policy.OPEN, people=people)
        ids = await send_posts(world, 20)
        await until(lambda: len(smarthost.deliveries()) >= 40, "nothing delivered")
        first = child_pid(world)
        os.kill(first, signal.SIGKILL)
        await until(lambda: not alive(first), "the child did not die")
        await asyncio.sleep(0.3)  # what the dead child sent reaches the smarthost
        before_kill = copies(smarthost)
        assert sum(before_kill.values()) < 400  # it really died mid-run
        await until(lambda: child_pid(world) != first, "the child was not restarted")
        await world.idle(timeout=30)
    after = copies(smarthost)
    assert set(after) == {(p, i) for p in people for i in ids}  # every copy arrived
    doubled = {key for key, n in after.items() if n > 1}
    # only what the dead child had sent but not yet recorded goes out again
    assert doubled <= set(before_kill)
    assert all(n <= 2 for n in after.values())


async def test_stopping_the_node_stops_the_child(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, node=CHILD) as world:
        await until(lambda: world.node.pipeline and world.node.pipeline.process, "no child")
        pid = child_pid(world)
        assert alive(pid)
    assert not alive(pid)


async def test_a_reload_replaces_the_child(tmp_path: Path, smarthost: RecordingSmarthost) -> None:
    async with running_world(tmp_path, smarthost, node=CHILD) as world:
        await until(lambda: world.node.pipeline and world.node.pipeline.process, "no child")
        first = child_pid(world)
        world.node.reload(
            make_config(tmp_path, smarthost.port, node=CHILD, delivery={"retry": ["2s"]})
        )
        await until(lambda: not alive(first), "the old child was not stopped")
        await until(
            lambda: world.node.pipeline.process and child_pid(world) != first,  # type: ignore[union-attr]
            "no new child",
        )
        world.make_list(TEAM, Policy.OPEN, people=["m@example.net"])
        await send_posts(world, 1)
        await until(lambda: len(smarthost.deliveries()) == 1, "not delivered after the reload")


@pytest.mark.parametrize("value", [0, 3, True, "2"])
def test_processes_must_be_1_or_2(tmp_path: Path, value: object) -> None:
    assert make_config(tmp_path, 25).node.processes == 1
    assert make_config(tmp_path, 25, node=CHILD).node.processes == 2
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, 25, node={"processes": value})
    assert caught.value.key == "node.processes"


async def serve_with_a_child(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> tuple[Daemon, int, int]:
    """`listfed serve` with the pipeline's process, one post delivered: (serve, its
    port, the child's pid)."""
    config, port = await setup_node(tmp_path, smarthost.port, 20, "processes = 2\n")
    daemon = Daemon(config, port)
    await daemon.start()
    assert daemon.proc is not None
    parent = daemon.proc.pid
    await until(lambda: children_of(parent), "serve started no pipeline process")
    [child] = children_of(parent)
    await post_to(port)
    await wait_for(20, smarthost)
    return daemon, port, child


async def test_sigkill_of_serve_ends_its_child(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    daemon, _port, child = await serve_with_a_child(tmp_path, smarthost)
    await daemon.signal(signal.SIGKILL)
    await until(lambda: not alive(child), "the pipeline process outlived its daemon")


async def test_sigterm_of_serve_stops_its_child(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    daemon, _port, child = await serve_with_a_child(tmp_path, smarthost)
    assert await daemon.signal(signal.SIGTERM) == 0
    assert not alive(child)


async def test_a_reload_keeps_the_number_of_processes_and_says_so(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_world(tmp_path, smarthost) as world:
        world.node.reload(make_config(tmp_path, smarthost.port, node=CHILD))
        assert world.node.pipeline is None  # still one process
        world.make_list(TEAM, Policy.OPEN, people=["m@example.net"])
        await send_posts(world, 1)
        await world.idle()
    assert len(smarthost.deliveries()) == 1
    assert "[node] processes is now 2 in the file; serve keeps 1" in caplog.text


def test_the_child_gets_the_whole_config_read_only_tables_included(tmp_path: Path) -> None:
    """The config goes to the child pickled: its read-only tables ([[route]] match,
    [[bridge]]) too, equal on the other side."""
    config = make_config(
        tmp_path,
        25,
        node=CHILD,
        route=[
            {"name": "r", "from": TEAM, "to": [f"other@{DOMAIN}"], "match": {"subject_tag": "x"}}
        ],
    )
    data = settings_of(config, "secret", tmp_path / "listfed.db")
    readable, writable = os.pipe()
    os.write(writable, data)
    os.close(writable)
    try:
        received, secret, database = read_settings(readable)
    finally:
        os.close(readable)
    assert received == config and secret == "secret" and database == tmp_path / "listfed.db"
    assert received.routes[0].match["subject_tag"] == "x"
