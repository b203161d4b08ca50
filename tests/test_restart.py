"""The daemon as a real process: killed or stopped at bad moments, it loses and doubles nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

import aiosmtplib
import pytest

from tests.conftest import DOMAIN, RecordingSmarthost, post
from tests.dnsstub import quiet

TEAM = f"team@{DOMAIN}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def cli(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "listfed",
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


class Daemon:
    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.proc: asyncio.subprocess.Process | None = None
        self.log = config.parent / "daemon.log"

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    async def logged(self, text: str, since: int, timeout: float = 20.0) -> str:
        """Wait until the daemon's log, past offset `since`, holds `text`; that part."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with self.log.open("rb") as f:
                f.seek(since)
                part = f.read().decode("utf-8", "replace")
            if text in part:
                return part
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the daemon did not log {text!r}")

    async def start(self) -> None:
        with self.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "listfed",
                "--config",
                str(self.config),
                "serve",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError("the daemon did not start listening")

    async def signal(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 30)


async def setup_node(
    tmp_path: Path, smarthost_port: int, members: int, node: str = ""
) -> tuple[Path, int]:
    """A node's config and lists; `node`: more [node] lines."""
    port = free_port()
    config = tmp_path / "listfed.toml"
    config.write_text(
        f'[node]\nname = "node.example.org"\ndomains = ["{DOMAIN}"]\ndata_dir = "var"\n'
        + node
        + f'[smtp]\nlisten = "127.0.0.1:{port}"\n'
        f'[delivery]\nsmarthost = "smtp://127.0.0.1:{smarthost_port}"\n'
        f'recipients_per_transaction = 10\nconnections = 2\nretry = ["1s", "1s", "1s"]\n'
        + f'[dns]\nnameservers = ["{quiet()}"]\n'
        '[web]\nlisten = ""\n'
    )
    await cli(config, "init")
    await cli(config, "lists", "create", TEAM, "--policy", "open")
    people = tmp_path / "people.txt"
    people.write_text("".join(f"user{i:04d}@example.net\n" for i in range(members)))
    await cli(config, "members", "import", TEAM, str(people))
    return config, port


async def post_to(port: int) -> None:
    """One post to the team list, answered 250 before this returns."""
    await aiosmtplib.send(
        post(),
        sender="alice@example.net",
        recipients=[TEAM],
        hostname="127.0.0.1",
        port=port,
        start_tls=False,
    )


async def wait_for(count: int, smarthost: RecordingSmarthost, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.05)):
        if len(smarthost.deliveries()) >= count:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{len(smarthost.deliveries())} of {count} delivered")


# the pipeline's process (listfed/courier/) must keep the same promises as serve alone
IN_A_CHILD = pytest.mark.parametrize("node", ["", "processes = 2\n"], ids=["loop", "child"])


@IN_A_CHILD
async def test_sigkill_right_after_250_delivers_exactly_once(
    tmp_path: Path, smarthost: RecordingSmarthost, node: str
) -> None:
    config, port = await setup_node(tmp_path, smarthost.port, members=20, node=node)
    daemon = Daemon(config, port)
    await daemon.start()
    await post_to(port)
    await daemon.signal(signal.SIGKILL)  # the 250 is in hand: the post must survive this
    await daemon.start()
    await wait_for(20, smarthost)
    await asyncio.sleep(1.5)  # room for a duplicate to show up, if there were one
    assert await daemon.signal(signal.SIGTERM) == 0
    counts = Counter(r for r, _ in smarthost.deliveries())
    assert len(counts) == 20 and set(counts.values()) == {1}


@IN_A_CHILD
async def test_sigterm_mid_delivery_resumes_without_doubles(
    tmp_path: Path, smarthost: RecordingSmarthost, node: str
) -> None:
    config, port = await setup_node(tmp_path, smarthost.port, members=300, node=node)
    original = smarthost.handle_DATA

    async def slow_data(*args: object) -> str:
        await asyncio.sleep(0.02)
        return await original(*args)  # type: ignore[arg-type]

    smarthost.handle_DATA = slow_data  # type: ignore[method-assign]
    daemon = Daemon(config, port)
    await daemon.start()
    await post_to(port)
    await wait_for(30, smarthost)
    assert await daemon.signal(signal.SIGTERM) == 0
    assert len(smarthost.deliveries()) < 300  # it really stopped mid-delivery
    await daemon.start()
    await wait_for(300, smarthost)
    await asyncio.sleep(1.0)
    assert await daemon.signal(signal.SIGTERM) == 0
    counts = Counter(r for r, _ in smarthost.deliveries())
    assert len(counts) == 300 and set(counts.values()) == {1}


async def test_sigterm_while_idle_exits_zero(tmp_path: Path, smarthost: RecordingSmarthost) -> None:
    config, port = await setup_node(tmp_path, smarthost.port, members=1)
    daemon = Daemon(config, port)
    await daemon.start()
    assert await daemon.signal(signal.SIGINT) == 0
    assert os.path.exists(tmp_path / "var" / "listfed.db")


async def test_sighup_with_a_broken_config_keeps_running(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    config, port = await setup_node(tmp_path, smarthost.port, members=3)
    daemon = Daemon(config, port)
    await daemon.start()
    good = config.read_text()
    config.write_text(good + "\n[delivery.oops]\n")
    assert daemon.proc is not None
    since = daemon.log_size()
    daemon.proc.send_signal(signal.SIGHUP)
    await daemon.logged("reload failed, keeping the running configuration", since)
    config.write_text(good)
    await post_to(port)
    await wait_for(3, smarthost)
    assert await daemon.signal(signal.SIGTERM) == 0


async def test_sighup_adds_a_route_without_dropping_an_open_session(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    config, port = await setup_node(tmp_path, smarthost.port, members=1)
    news = f"news@{DOMAIN}"
    await cli(config, "lists", "create", news, "--policy", "members")
    await cli(config, "members", "add", news, "reader@example.org")
    daemon = Daemon(config, port)
    await daemon.start()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    await client.ehlo()
    config.write_text(
        config.read_text()
        + f'[[route]]\nname = "to-news"\nfrom = "{TEAM}"\nto = ["{news}"]\n'
        + 'match = { subject_tag = "news" }\n'
    )
    assert daemon.proc is not None
    since = daemon.log_size()
    daemon.proc.send_signal(signal.SIGHUP)
    await daemon.logged("configuration reloaded", since)
    await client.sendmail("alice@example.net", [TEAM], post(subject="[news] Fresh"))
    await client.quit()
    await wait_for(2, smarthost)
    assert await daemon.signal(signal.SIGTERM) == 0
    got = {r: m.message for r, m in smarthost.deliveries()}
    assert got["reader@example.org"]["Subject"] == "[news] Fresh"
    assert got["reader@example.org"]["X-Listfed-Trace"] == f"node.example.org {TEAM}"
