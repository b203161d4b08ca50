"""Fair intake (issue 22): one host cannot keep another's mail out by holding
connections; a client that drips DATA is cut off; refusals are logged, not flooded.

Real SMTP over loopback; the hosts are two loopback addresses (127.0.0.2 holds the
connections, 127.0.0.1 posts), as two machines would be."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from listfed import smtpsession
from listfed.config import parse_config
from listfed.errors import ConfigError
from listfed.listinfo import Policy
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world

TEAM = f"team@{DOMAIN}"
GREEDY = "127.0.0.2"


async def connect(
    w: World, source: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(w.host, w.port, local_addr=(source, 0))
    greeting = await asyncio.wait_for(reader.readline(), 5)
    return reader, writer, greeting


async def test_one_host_holding_connections_cannot_keep_another_hosts_post_out(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    smtp = {"max_connections": 8, "max_connections_per_client": 5}
    async with running_world(tmp_path, smarthost, smtp=smtp) as w:
        w.make_list(TEAM, Policy.OPEN, people=["bob@example.org"])
        caplog.set_level(logging.WARNING, logger="listfed.intake")
        held = [await connect(w, GREEDY) for _ in range(5)]
        assert all(greeting.startswith(b"220 ") for _r, _w, greeting in held)
        refused = [await connect(w, GREEDY) for _ in range(3)]  # its sixth, seventh...
        assert all(greeting.startswith(b"421 4.3.2") for _r, _w, greeting in refused)
        said = [r for r in caplog.records if "refused with 421" in r.getMessage()]
        assert len(said) == 1 and GREEDY in said[0].getMessage()  # once, not per attempt
        started = time.monotonic()
        await w.send(post("Still gets through", to=TEAM), TEAM)  # from 127.0.0.1
        assert time.monotonic() - started < 5
        await w.idle()
        assert [r for r, _ in smarthost.deliveries()] == ["bob@example.org"]
        for _r, writer, _g in held + refused:
            writer.close()


async def drip(w: World, chunk: bytes, rounds: int) -> float:
    """Open a transaction from GREEDY and send DATA `chunk` every 0.1 s; the seconds
    until the node closed the connection (AssertionError if it never did)."""
    reader, writer, _ = await connect(w, GREEDY)
    for line in (
        b"HELO x\r\n",
        b"MAIL FROM:<a@example.net>\r\n",
        f"RCPT TO:<{TEAM}>\r\n".encode(),
        b"DATA\r\n",
    ):
        writer.write(line)
        await reader.readline()
    started = time.monotonic()
    try:
        for _ in range(rounds):
            try:
                writer.write(chunk)
                await writer.drain()
            except (ConnectionError, OSError):
                return time.monotonic() - started
            if reader.at_eof():
                return time.monotonic() - started
            await asyncio.sleep(0.1)
    finally:
        writer.close()
    raise AssertionError("the node never closed the dripping connection")


async def test_a_client_dripping_data_is_cut_off_and_others_go_on(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    smtp = {"data_timeout": "1s", "timeout": "2s"}
    async with running_world(tmp_path, smarthost, smtp=smtp) as w:
        w.make_list(TEAM, Policy.OPEN, people=["bob@example.org"])
        assert await drip(w, b"x", 40) < 3.0  # a byte every 0.1 s: never a message
        await w.send(post("After the drip", to=TEAM), TEAM)
        await w.idle()
        assert [r for r, _ in smarthost.deliveries()] == ["bob@example.org"]


def test_the_limits_are_config_keys_with_rfc_5321_defaults(tmp_path: Path) -> None:
    base = {"node": {"name": "n.example.org"}}
    smtp = parse_config(base, tmp_path, {}, None).smtp
    assert (smtp.timeout, smtp.data_timeout, smtp.session_timeout) == (300.0, 600.0, 1800.0)
    assert smtp.max_connections_per_client == 20
    given = {"timeout": "30s", "data_timeout": "2m", "max_connections_per_client": 3}
    smtp = parse_config({**base, "smtp": given}, tmp_path, {}, None).smtp
    assert (smtp.timeout, smtp.data_timeout, smtp.max_connections_per_client) == (30.0, 120.0, 3)
    with pytest.raises(ConfigError, match=r"smtp\.data_timeout"):
        parse_config({**base, "smtp": {"data_timeout": "soon"}}, tmp_path, {}, None)


async def test_data_slower_than_the_minimum_rate_is_cut_off_after_the_grace(
    tmp_path: Path, smarthost: RecordingSmarthost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[smtp] min_data_rate (500 bytes a second, Postfix's): a drip is cut off once the
    grace (30 s; 1 s here) is over, well before data_timeout."""
    monkeypatch.setattr(smtpsession, "DATA_GRACE", 1.0)
    monkeypatch.setattr(smtpsession, "DATA_CHECK", 0.2)
    async with running_world(tmp_path, smarthost) as w:  # data_timeout stays 10 minutes
        w.make_list(TEAM, Policy.OPEN, people=["bob@example.org"])
        assert await drip(w, b"x" * 10, 60) < 4.0  # 100 bytes a second: under 500
        await w.send(post("After the drip", to=TEAM), TEAM)  # a normal post is not cut
        await w.idle()
        assert [r for r, _ in smarthost.deliveries()] == ["bob@example.org"]
