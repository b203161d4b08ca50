"""What every stage is given: the node's live settings, and the `Context` of one pass
(the database session, those settings and the clock together), so that no stage reads
the time or the configuration on its own and tests can fake both."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from listfed.config import Config
from listfed.config.settings import BridgeConfig, MembersConfig, PeerConfig, RouteConfig

if TYPE_CHECKING:  # `members add --welcome` needs the node's settings, not SQLAlchemy
    from sqlmodel import Session


@dataclass(frozen=True)
class NodeSettings:
    """The node-wide facts the stages need, taken from the config."""

    name: str
    hop_limit: int = 8
    archive_enabled: bool = True
    base_url: str = ""
    domains: tuple[str, ...] = ()
    signature_max_age: float = 7 * 86400.0
    accept_v1_signatures: bool = True  # relay signatures of the old form, for now
    sign_v1: bool = True  # sign relays v=1 too (SPEC §9's form), beside v=2
    peers: tuple[PeerConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    bridges: tuple[BridgeConfig, ...] = ()
    secret: str = ""  # the node secret: HMAC key of confirmation tokens
    members: MembersConfig = field(default_factory=MembersConfig)
    verp: str = "never"  # never | probes | always

    def peer_for(self, address: str) -> PeerConfig | None:
        """The peer hosting `address`'s domain, whose secret signs relays to it."""
        domain = address.rpartition("@")[2].lower()
        return next((p for p in self.peers if domain in p.domains), None)

    def bridge(self, name: str) -> BridgeConfig | None:
        return next((b for b in self.bridges if b.name == name), None)

    def bridge_addresses(self) -> dict[str, tuple[str, str]]:
        """SMTP bridges' addresses -> (local list, bridge name), as addresses.resolve wants."""
        return {b.address.lower(): (b.list, b.name) for b in self.bridges if b.address}

    def hosts(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() in self.domains


def node_settings(config: Config, secret: str = "") -> NodeSettings:
    """The node-wide settings of `config`; `secret` is the node secret (ops.node)."""
    return NodeSettings(
        name=config.node.name,
        hop_limit=config.node.hop_limit,
        archive_enabled=config.archive.enabled,
        base_url=config.node.base_url,
        domains=config.node.domains,
        signature_max_age=config.node.signature_max_age,
        accept_v1_signatures=config.node.accept_v1_signatures,
        sign_v1=config.node.sign_v1,
        peers=config.peers,
        routes=config.routes,
        bridges=config.bridges,
        secret=secret,
        members=config.members,
        verp=config.delivery.verp,
    )


@dataclass(frozen=True)
class Context:
    """One pass of a worker: its transaction, the node's settings, the clock."""

    session: Session
    node: NodeSettings
    clock: Callable[[], float] = time.time

    def now(self) -> float:
        return self.clock()
