"""Several listfed nodes in one test: each with its own domain, data dir, database and
peer secrets, listening on loopback ports, relaying to each other directly."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from listfed.config import parse_config
from listfed.listinfo import Policy
from listfed.ops.node import prepare
from listfed.service import Node
from tests.conftest import RecordingSmarthost, World
from tests.dnsstub import quiet


def node_name(short: str) -> str:
    return f"{short}.example"


def domain_of(short: str) -> str:
    return f"lists.{short}.example"


def secret_for(a: str, b: str) -> str:
    return "secret-" + "-".join(sorted((a, b)))


def _spec_mac(secret: str, lines: Sequence[str]) -> str:
    mac = hmac.new(secret.encode("utf-8"), "\n".join(lines).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def _spec_id(message_id: str) -> str:
    mid = message_id.strip()
    return mid[1:-1] if mid.startswith("<") and mid.endswith(">") else mid


def spec_v1(
    secret: str, node: str, when: int, message_id: str, traces: Sequence[str], body: bytes
) -> str:
    """The v=1 `s=` value, computed from the words of SPEC §9 alone."""
    digest = hashlib.sha256(body).hexdigest()
    return _spec_mac(
        secret, ["v=1", f"n={node}", f"t={when}", _spec_id(message_id), *traces, digest]
    )


def spec_v2(
    secret: str,
    node: str,
    when: int,
    target: str,
    fields: Sequence[str],
    message_id: str,
    traces: Sequence[str],
    body: bytes,
) -> str:
    """The v=2 `s=` value from the words of SPEC §9 alone: `fields` are the unfolded
    From, Subject and Content-Type values."""
    lines = ["v=2", f"n={node}", f"t={when}", target.lower(), *fields, _spec_id(message_id)]
    return _spec_mac(secret, [*lines, *traces, hashlib.sha256(body).hexdigest()])


@dataclass
class Fed:
    worlds: dict[str, World]
    smarthost: RecordingSmarthost
    base: Path
    ports: dict[str, int]
    dead: set[str]
    node_keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # more [node] keys
    # (node, peer) -> the peer's `secret` in node's config, where not secret_for's
    secrets: dict[tuple[str, str], str | list[str]] = field(default_factory=dict)
    # peers trusted by their DKIM key (no secrets): node -> its [dkim] section, and the
    # DNS that publishes the keys
    dkim: dict[str, dict[str, Any]] = field(default_factory=dict)
    nameserver: str = ""

    def __getitem__(self, short: str) -> World:
        return self.worlds[short]

    def config_data(self, short: str, routes: Sequence[dict[str, Any]]) -> dict[str, Any]:
        peers = [
            {
                "name": other,
                "node": node_name(other),
                **(
                    {"trust": "dkim"}
                    if self.dkim
                    else {"secret": self.secrets.get((short, other), secret_for(short, other))}
                ),
                "domains": [domain_of(other)],
                "smtp": f"smtp://127.0.0.1:{self.ports[other]}",
            }
            for other in self.ports
            if other != short
        ]
        return {
            "node": {
                "name": node_name(short),
                "domains": [domain_of(short)],
                "data_dir": "var",
                **self.node_keys.get(short, {}),
            },
            "smtp": {"listen": f"127.0.0.1:{self.ports[short]}"},
            "dns": {"nameservers": [self.nameserver or quiet()], "timeout": "2s"},
            **({"dkim": self.dkim[short]} if short in self.dkim else {}),
            "web": {"listen": ""},
            "delivery": {
                "smarthost": f"smtp://127.0.0.1:{self.smarthost.port}",
                "retry": ["1s", "1s", "1s", "1s", "1s"],
            },
            "peer": peers,
            "route": list(routes),
        }

    def set_routes(self, short: str, *routes: dict[str, Any]) -> None:
        """Give node `short` these routes, as an admin would by editing and SIGHUP."""
        world = self.worlds[short]
        world.node.reload(parse_config(self.config_data(short, routes), self.base / short, {}))

    def configure(self, short: str, *routes: dict[str, Any], **node_keys: Any) -> None:
        """Give node `short` these routes and [node] keys, as by editing and SIGHUP."""
        self.node_keys[short] = node_keys
        self.set_routes(short, *routes)

    def make_list(
        self, address: str, policy: Policy = Policy.OPEN, people: list[str] | None = None
    ) -> None:
        short = address.split("@")[1].split(".")[1]
        self.worlds[short].make_list(address, policy, people)

    def got(self, rcpt: str) -> list[Any]:
        """The messages member `rcpt` received, as parsed messages."""
        return [m.message for r, m in self.smarthost.deliveries() if r == rcpt]

    async def idle(self, timeout: float = 20.0) -> None:
        """Until every node is idle twice in a row (a relay may wake another node)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        calm = 0
        while calm < 2:
            if loop.time() > deadline:
                raise TimeoutError("the federation did not become idle")
            for short, world in self.worlds.items():
                if short not in self.dead:
                    await world.idle(timeout=max(0.1, deadline - loop.time()))
            calm = calm + 1 if not await self._busy() else 0

    async def _busy(self) -> bool:
        for short, world in self.worlds.items():
            if short in self.dead:
                continue

            def count(w: World = world) -> int:
                with w.node.db.read() as s:
                    conn = s.connection()
                    q = conn.execute(text("SELECT COUNT(*) FROM queue WHERE state='new'")).scalar()
                    o = conn.execute(
                        text("SELECT COUNT(*) FROM outbox WHERE state='pending'")
                    ).scalar()
                return int(q or 0) + int(o or 0)

            if await world.node.db.run(count):
                return True
        return False

    def ledger(self, short: str) -> list[tuple[str, ...]]:
        with self.worlds[short].node.db.read() as s:
            rows = s.connection().execute(
                text("SELECT direction, route, target, message_id, outcome FROM relay ORDER BY id")
            )
            return [tuple(r) for r in rows]

    async def stop_node(self, short: str) -> None:
        await self.worlds[short].node.stop(grace=1)
        self.dead.add(short)

    async def start_node(self, short: str, routes: Sequence[dict[str, Any]] = ()) -> None:
        config = parse_config(self.config_data(short, routes), self.base / short, {})
        node = Node(config)
        host, port = await node.start()
        self.worlds[short] = World(node, host, port, self.smarthost)
        self.dead.discard(short)


@asynccontextmanager
async def federation(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    *shorts: str,
    dkim: dict[str, dict[str, Any]] | None = None,
    nameserver: str = "",
) -> AsyncIterator[Fed]:
    """Nodes named SHORT.example hosting lists.SHORT.example, all peers of each other:
    by shared secrets, or (with `dkim`, each node's [dkim] section) by the DKIM keys
    that the DNS at `nameserver` publishes."""
    fed = Fed({}, smarthost, tmp_path, dict.fromkeys(shorts, 0), set())
    fed.dkim, fed.nameserver = dkim or {}, nameserver
    try:
        for short in shorts:  # first on port 0, to learn a free port for each
            data = fed.config_data(short, ())
            data["peer"] = []
            config = parse_config(data, tmp_path / short, {})
            prepare(config)
            node = Node(config)
            host, port = await node.start()
            fed.ports[short] = port
            fed.worlds[short] = World(node, host, port, smarthost)
        for short in shorts:  # now every node knows where its peers listen
            fed.set_routes(short)
        yield fed
    finally:
        for short, world in fed.worlds.items():
            if short not in fed.dead:
                await world.node.stop(grace=1)
