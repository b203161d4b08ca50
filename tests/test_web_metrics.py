"""`GET /metrics` (SPEC §10, §11): the node's state in Prometheus's text format, served
by the web face's own process to loopback clients and the networks `[web] metrics_from`
lists; everyone else (a proxied stranger included) gets 403."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import urllib.request
from pathlib import Path

import aiosmtplib
import pytest
from starlette.testclient import TestClient

from listfed.config import load_config
from listfed.errors import ConfigError
from listfed.listinfo import Policy
from listfed.ops import metrics
from listfed.prometheus import Family, Sample, render
from listfed.web.app import build
from tests.conftest import DOMAIN, RecordingSmarthost, running_world
from tests.test_web_browser import mail

TEAM = f"team@{DOMAIN}"


SAMPLE = re.compile(r"([a-z_]+)(?:\{(.*)\})? (\S+)")
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def value(text: str, name: str, **labels: str) -> float:
    """The sample of `name` with exactly these labels (in any order) from the text."""
    for row in text.splitlines():
        found = SAMPLE.fullmatch(row)
        if found and found.group(1) == name and dict(LABEL.findall(found.group(2) or "")) == labels:
            return float(found.group(3))
    raise AssertionError(f"no {name} {labels} in\n{text}")


async def scrape(url: str) -> str:
    answer = await asyncio.to_thread(urllib.request.urlopen, url, timeout=10)
    return str(answer.read().decode())


async def counted(url: str, posts: int) -> None:
    """Wait (bounded) until the daemon's counts, written every two seconds, show `posts`."""
    want = f'listfed_intake_accepted_total{{kind="post"}} {posts}.0'
    for _ in range(100):
        if want in (await scrape(url)).splitlines():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {want}")


async def test_a_running_node_reports_its_state_to_loopback(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, web={"listen": "127.0.0.1:0"}) as world:
        world.make_list(TEAM, Policy.OPEN, people=["ann@example.org", "bob@example.net"])
        for n in range(3):
            await world.send(mail(f"m{n}@x", f"Post {n}", "Hello.\n"), TEAM)
        await world.idle()
        assert world.node.web is not None
        url = f"http://127.0.0.1:{world.node.web.port}/metrics"
        await counted(url, 3)
        await world.send(mail("m3@x", "Post 3", "Hello.\n"), TEAM)  # the counter moves
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await world.send(mail("m4@x", "Refused", "x\n"), f"nosuch@{DOMAIN}")
        await world.idle()
        await counted(url, 4)
        answer = await asyncio.to_thread(urllib.request.urlopen, url, timeout=10)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    text = answer.read().decode()
    assert value(text, "listfed_intake_accepted_total", kind="post") == 4
    assert "# TYPE listfed_archive_messages gauge" in text
    assert value(text, "listfed_lists") == 1
    assert value(text, "listfed_members", delivery="enabled") == 2
    assert value(text, "listfed_archive_messages") == 4
    assert value(text, "listfed_intake_refused_total", code="550") == 1
    for domain in ("example.org", "example.net"):
        assert value(text, "listfed_deliveries_total", domain=domain, outcome="accepted") == 4
    assert value(text, "listfed_delivery_replies_total", outcome="accepted", code="250") == 8
    assert value(text, "listfed_bounces_total", how="refused") == 0
    assert value(text, "listfed_outbox_oldest_seconds") == 0  # all delivered
    assert value(text, "listfed_held_posts") == 0
    assert value(text, "listfed_process_resident_memory_bytes", process="daemon") > 10e6
    assert value(text, "listfed_process_resident_memory_bytes", process="web") > 10e6
    assert value(text, "listfed_database_bytes") > 0
    # every line is a comment or `name{labels} number`
    sample = re.compile(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+')
    for row in text.splitlines():
        assert row.startswith("# ") or sample.fullmatch(row), row


def test_the_ranked_indexs_backlog_is_counted_and_aged(tmp_path: Path) -> None:
    """Notes the feeder has not carried: a new index's (at 0) are counted, not aged."""
    from tests.test_web import run

    config = tmp_path / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    database = tmp_path / "var" / "listfed.db"
    now = 1_800_000_000.0
    conn = sqlite3.connect(database)
    families = {f.name: f for f in metrics.collect(conn, database, now, 0)}
    assert families["listfed_search_index_waiting_posts"].samples == [Sample(0.0)]
    assert families["listfed_search_index_oldest_seconds"].samples == [Sample(0.0)]
    with conn:
        conn.executemany(
            "INSERT INTO search_pending (post, at) VALUES (?, ?)",
            [(1, 0.0), (2, now - 30), (3, now - 5)],
        )
    families = {f.name: f for f in metrics.collect(conn, database, now, 0)}
    conn.close()
    assert families["listfed_search_index_waiting_posts"].samples == [Sample(3.0)]
    assert families["listfed_search_index_oldest_seconds"].samples == [Sample(30.0)]


def test_only_loopback_and_the_configured_networks_may_read(tmp_path: Path) -> None:
    from tests.test_web import run

    config = tmp_path / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    run(config, "lists", "create", TEAM)
    database = tmp_path / "var" / "listfed.db"

    def status(client: str, networks: tuple[str, ...] = (), **headers: str) -> int:
        app = build(database, metrics_from=networks)
        with TestClient(app, client=(client, 4000)) as c:
            return c.get("/metrics", headers=headers).status_code

    assert status("127.0.0.1") == 200
    assert status("::1") == 200
    assert status("203.0.113.9") == 403
    assert status("203.0.113.9", ("203.0.113.0/24",)) == 200
    assert status("198.51.100.1", ("203.0.113.0/24",)) == 403
    # a TLS proxy on this machine: the client judged is the one it names
    assert status("127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"}) == 403
    assert status("127.0.0.1", ("198.51.100.0/24",), **{"X-Forwarded-For": "198.51.100.1"}) == 200


def test_metrics_from_must_be_networks(tmp_path: Path) -> None:
    path = tmp_path / "listfed.toml"
    path.write_text('[web]\nmetrics_from = ["10.0.0.0/8", "2001:db8::1"]\n')
    assert load_config(path, {}, tmp_path).web.metrics_from == ("10.0.0.0/8", "2001:db8::1/128")
    path.write_text('[web]\nmetrics_from = ["the office"]\n')
    with pytest.raises(ConfigError, match=r"web\.metrics_from\[0\].*'the office'"):
        load_config(path, {}, tmp_path)


def test_label_values_are_escaped() -> None:
    family = Family("x_total", "counter", "A test.", [Sample(2.5, (("name", 'a"b\\c\nd'),))])
    assert render([family]).decode().splitlines() == [
        "# HELP x_total A test.",
        "# TYPE x_total counter",
        'x_total{name="a\\"b\\\\c\\nd"} 2.5',
    ]
