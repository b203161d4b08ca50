"""The typed object that travels through the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from listfed.config.settings import BridgeConfig, MembersConfig, PeerConfig, RouteConfig
from listfed.listinfo import ListInfo
from listfed.lookups import Facts
from listfed.mail.message import ParsedMessage, parse


class Decision(StrEnum):
    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"
    DISCARD = "discard"  # the list's own choice (nonmember_action = discard)
    DROP = "drop"  # a loop or a duplicate: logged, never answered


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str  # for humans: `held show`, logs, the poster's notice


@dataclass(frozen=True)
class NodeSettings:
    """The node-wide facts the stages need, taken from the config."""

    name: str
    hop_limit: int = 8
    archive_enabled: bool = True
    base_url: str = ""
    domains: tuple[str, ...] = ()
    signature_max_age: float = 7 * 86400.0
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


@dataclass
class Post:
    queue_id: int
    lst: ListInfo
    raw: bytes
    mail_from: str
    message: ParsedMessage
    received: float
    approved: bool = False
    origin: str = ""  # "route:NAME" / "bridge:NAME": relayed here by a route, a bridge
    relay_from: str = ""  # set when trusted as a relay: the list it left from
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    thread_id: str = ""
    outgoing_data: bytes = b""
    facts: Facts = field(default_factory=Facts)  # DMARC and arrival auth, looked up before

    def log_prefix(self) -> str:
        return f"<{self.message.message_id}> q{self.queue_id} {self.lst.address}"


def make_post(
    queue_id: int,
    lst: ListInfo,
    raw: bytes,
    mail_from: str,
    node: str,
    received: float,
    *,
    approved: bool = False,
    origin: str = "",
) -> Post:
    """Read `raw` as a post on `lst`. A message without a Message-ID gets the generated
    one as a header, so that every copy, relay and archive entry carries the same id."""
    message = parse(raw, mail_from, node)
    if message.generated_id:
        raw = f"Message-ID: <{message.message_id}>\r\n".encode() + raw
    return Post(
        queue_id=queue_id,
        lst=lst,
        raw=raw,
        mail_from=mail_from,
        message=message,
        received=received,
        approved=approved,
        origin=origin,
    )


@dataclass(frozen=True)
class Incoming:
    """A message to one of a list's robot addresses (-request, -join, -leave, -confirm,
    -owner, -bounces), as the robots see it."""

    queue_id: int
    kind: str  # an addresses.Kind value
    lst: ListInfo
    raw: bytes
    mail_from: str
    detail: str  # the token of -confirm+TOKEN, the VERP part of -bounces+X
    received: float
    message: ParsedMessage

    def log_prefix(self) -> str:
        bridge = self.kind == "bridge"  # the address of the bridge named by detail
        where = f"bridge {self.detail}" if bridge else self.lst.sub_address(self.kind)
        return f"<{self.message.message_id}> q{self.queue_id} {where}"
