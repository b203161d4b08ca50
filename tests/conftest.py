"""A world per test: a node on a loopback port, a recording smarthost, an SMTP client."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP
from sqlmodel import func, select

from listfed.bridges.proof import subscribed
from listfed.bridges.watchers import Timing
from listfed.config import Config, parse_config
from listfed.db import intakefile
from listfed.db.models import OutboxEntry, QueueItem
from listfed.dispatch import HANDLED_KINDS
from listfed.listinfo import Policy, Role
from listfed.ops import lists, members
from listfed.ops.node import prepare
from listfed.service import Node
from tests.dnsstub import StubDns, quiet

DOMAIN = "lists.example.org"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class LongLines(SMTP):  # type: ignore[misc]
    """aiosmtpd taking lines of any length in DATA, as Postfix does."""

    line_length_limit = 1 << 20


@dataclass
class RecordingSmarthost:
    """An aiosmtpd server that records what it accepts and can be told to refuse."""

    received: list[Received] = field(default_factory=list)
    # address -> reply for RCPT (e.g. "550 5.1.1 no such user"); None: accept
    rcpt_reply: Callable[[str], str | None] = lambda _a: None
    # the reply to MAIL FROM, and after DATA, for this attempt; None: accept
    mail_reply: Callable[[], str | None] = lambda: None
    data_reply: Callable[[], str | None] = lambda: None
    port: int = 0
    attempts: int = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.mail_reply()
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.attempts += 1
        reply = self.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.data_reply()
        if reply:
            return reply
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"

    def deliveries(self) -> list[tuple[str, Received]]:
        return [(r, m) for m in self.received for r in m.rcpt_tos]


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's `listfed` commands keep what they read of a config (listfed/configcache.py)
    in a folder of the suite's own, not in the user's ~/.cache."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture
async def smarthost() -> AsyncIterator[RecordingSmarthost]:
    host = RecordingSmarthost()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: LongLines(host, enable_SMTPUTF8=True), "127.0.0.1", 0)
    host.port = server.sockets[0].getsockname()[1]
    yield host
    server.close()


def make_config(tmp_path: Path, smarthost_port: int | None, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "node": {"name": "node.example.org", "domains": [DOMAIN], "data_dir": "var"},
        "smtp": {"listen": "127.0.0.1:0"},
        "delivery": {
            "smarthost": f"smtp://127.0.0.1:{smarthost_port}"
            if smarthost_port
            else "maildir:var/outbox",
            "retry": ["1s", "1s", "1s"],
        },
        "dns": {"nameservers": [quiet()]},
        "web": {"listen": ""},  # tests that want the web face give it a port
    }
    for name, values in sections.items():
        if isinstance(values, list):  # an array of tables: [[route]], [[bridge]]
            data[name] = values
        else:
            data.setdefault(name, {}).update(values)
    return parse_config(data, tmp_path, {}, None)


@dataclass
class World:
    node: Node
    host: str
    port: int
    smarthost: RecordingSmarthost | None

    def write(self) -> Any:
        return self.node.db.write()

    def bridge_address(self, name: str) -> str:
        """The address bridge `name` is subscribed to its foreign list as: with the tag
        that proves the foreign list's posts (`listfed bridges ls` shows it)."""
        bridge = self.node.dispatcher.node.bridge(name)
        assert bridge is not None
        return subscribed(self.node.secret, bridge)

    async def idle(self, timeout: float = 15.0) -> None:
        """Wait until the pipeline and delivery have nothing left to do now."""
        deadline = asyncio.get_running_loop().time() + timeout

        def busy() -> int:
            with self.node.db.read() as s:
                queued = s.exec(
                    select(func.count())
                    .select_from(QueueItem)
                    .where(QueueItem.state == "new", QueueItem.kind.in_(HANDLED_KINDS))
                    # not what waits for later on purpose (a bridge's direct copy)
                    .where(QueueItem.next_attempt <= self.node.dispatcher.clock())
                ).one()
                pending = s.exec(
                    select(func.count())
                    .select_from(OutboxEntry)
                    .where(OutboxEntry.state == "pending")
                ).one()
            return int(queued) + int(pending) + self.untaken()

        # With `[node] processes = 2` the child's steps (take, pass, send, record) are seen
        # from here only through the database: idle means nothing to do for 0.3 s on end
        # (a shorter look once saw a refused member's score before the child wrote it).
        quiet = 0.3 if self.node.pipeline is not None else 0.0
        loop = asyncio.get_running_loop()
        still_since: float | None = None
        while True:
            if await self.node.db.run(busy):
                still_since = None
                if loop.time() > deadline:
                    raise TimeoutError("the node did not become idle")
                self.node.wake_pass()
            elif still_since is None:
                still_since = loop.time()
            if still_since is not None and loop.time() - still_since >= quiet:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # let the last sender record its batch

    def untaken(self) -> int:
        """Messages in intake's own file (`[node] processes = 2`) not yet queued."""
        with self.node.db.read_plain() as conn:
            return len(intakefile.untaken(conn))

    async def send(self, raw: bytes, rcpt: str, mail_from: str = "alice@example.net") -> Any:
        return await aiosmtplib.send(
            raw,
            sender=mail_from,
            recipients=[rcpt],
            hostname=self.host,
            port=self.port,
            start_tls=False,
        )

    def make_list(
        self,
        address: str,
        policy: Policy = Policy.MEMBERS,
        people: list[str] | None = None,
        **settings: str,
    ) -> None:
        with self.node.db.write() as s:
            lists.create(s, address, self.node.config.node.domains, policy)
            if people:
                members.add(s, address, people, Role.MEMBER)
            for key, value in settings.items():
                lists.set_value(s, address, key, value)


@asynccontextmanager
async def running_world(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    clock: Callable[[], float] | None = None,
    imap_timing: Timing | None = None,
    **sections: Any,
) -> AsyncIterator[World]:
    """A started node with these config sections over the defaults; stopped afterwards.
    A section given as a list is an array of tables (``bridge=[{...}]``)."""
    config = make_config(tmp_path, smarthost.port, **sections)
    prepare(config)
    node = Node(config, clock or time.time, imap_timing)
    host, port = await node.start()
    try:
        yield World(node, host, port, smarthost)
    finally:
        await node.stop(grace=2)


@pytest.fixture
async def world(tmp_path: Path, smarthost: RecordingSmarthost) -> AsyncIterator[World]:
    async with running_world(tmp_path, smarthost) as w:
        yield w


def post(
    subject: str = "Hello",
    body: str = "Hi all.\n",
    sender: str = "alice@example.net",
    to: str = f"team@{DOMAIN}",
    message_id: str | None = "<m1@example.net>",
    extra: str = "",
) -> bytes:
    mid = f"Message-ID: {message_id}\r\n" if message_id else ""
    return (
        f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n{mid}"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n{extra}\r\n{body}"
    ).encode()


def hold_posts(database: Path, list_id: int, count: int) -> None:
    """Posts 1..count to the list in the hold queue, as the pipeline leaves them (from
    pN@example.net, "post N", held because the sender is not a member)."""
    from listfed.db import spooled
    from listfed.db.engine import Database
    from listfed.db.models import Held

    db = Database(database)
    with db.write() as s:
        for n in range(1, count + 1):
            s.add(
                Held(
                    list_id=list_id,
                    mail_from=f"p{n}@example.net",
                    sender=f"p{n}@example.net",
                    subject=f"post {n}",
                    message_id=f"h{n}@x",
                    reason="not a member",
                    spooled_id=spooled.store(s, f"Subject: post {n}\r\n\r\nbody {n}\r\n".encode()),
                    received=time.time(),
                )
            )
    db.close()


@pytest.fixture
def dns_stub() -> Iterator[StubDns]:
    """A stub DNS server on 127.0.0.1, for `[dns] nameservers = [stub.address]`."""
    with StubDns() as stub:
        yield stub
