"""The frozen dataclasses a parsed listfed.toml becomes, one per section."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from listfed.errors import ConfigError


@dataclass(frozen=True)
class NodeConfig:
    """[node]: who this node is and where it keeps its data."""

    name: str
    domains: tuple[str, ...]
    data_dir: Path
    base_url: str = ""
    hop_limit: int = 8
    signature_max_age: float = 7 * 86400.0
    accept_v1_signatures: bool = True  # will become false, then go (federation.signing)
    sign_v1: bool = True  # relays carry a v=1 signature beside the v=2 one, for now
    processes: int = 1  # 2: the pipeline and delivery in a child process (courier/)


@dataclass(frozen=True)
class SmtpConfig:
    """[smtp]: the listener that takes mail in."""

    host: str = "127.0.0.1"
    port: int = 8025
    lmtp: bool = False
    max_message_size: int = 10 * 1024 * 1024
    max_connections: int = 200
    max_connections_per_client: int = 20  # from one client address
    max_recipients: int = 1000  # RCPTs per transaction; the rest are answered 452
    timeout: float = 300.0  # seconds to wait for a command (RFC 5321 §4.5.3.2)
    data_timeout: float = 600.0  # seconds for the whole DATA phase
    session_timeout: float = 1800.0  # seconds a session may last
    min_data_rate: int = 500  # bytes a second DATA must come at, after 30 s (0: no check)


@dataclass(frozen=True)
class DeliveryConfig:
    """[delivery]: how mail goes out; exactly one of maildir or smtp_host is set."""

    smarthost: str = "maildir:var/outbox"
    maildir: Path | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    connections: int = 4
    recipients_per_transaction: int = 100
    retry: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0, 21600.0, 86400.0)
    verp: str = "never"


@dataclass(frozen=True)
class WebConfig:
    """[web]: the web face (SPEC §10); listen = "" turns it off."""

    host: str = "127.0.0.1"
    port: int = 8080
    enabled: bool = True
    metrics_from: tuple[str, ...] = ()  # networks besides loopback that may read /metrics
    workers: int = 0  # child processes serving pages; 0 ("auto"): see processes()
    network_deadline: float = 3.0  # a network search answers within this, peers or not
    search_rate: int = 30  # GET /search.json per client address per minute
    priority: str = (
        "idle"  # the children's CPU share: "idle" (only what nothing else wants) or "low"
    )

    def processes(self) -> int:
        """How many children serve pages: `workers`, or for "auto" one per core this
        process may run on (at most 4: pages wait on the database beyond that); with
        priority "low", one per core but one, which stays for mail (at least 1)."""
        if self.workers:
            return self.workers
        cores = len(os.sched_getaffinity(0))
        return max(1, min(4, cores if self.priority == "idle" else cores - 1))


@dataclass(frozen=True)
class ArchiveConfig:
    """[archive]."""

    enabled: bool = True


@dataclass(frozen=True)
class MembersConfig:
    """[members]: confirmations, robot replies and bounce scores (SPEC §4)."""

    confirm_expiry: float = 7 * 86400.0  # how long a confirmation token is valid
    replies_per_hour: int = 10  # robot mail to any one address, at most, per hour
    bounce_reset_after: float = 7 * 86400.0  # a score with no bounce for this long is reset


@dataclass(frozen=True)
class StorageConfig:
    """[storage]: how long a write waits for a lock before the sender gets 451."""

    busy_timeout: float = 5.0


@dataclass(frozen=True)
class DnsConfig:
    """[dns]: resolvers to use instead of the system's ("IP" or "IP:port")."""

    nameservers: tuple[str, ...] = ()
    timeout: float = 5.0  # one lookup, all nameservers together


@dataclass(frozen=True)
class DkimConfig:
    """[dkim]: signing what the node sends (DKIM) and sealing posts it changes (ARC).

    private_key is the PEM text itself (already read from `file:`/`env:`); "" means off.
    """

    selector: str = "listfed"
    private_key: str = ""
    domains: tuple[str, ...] = ()  # signing domains; () means all of [node] domains
    arc: bool = True
    # (selector, PEM) of older keys during a rotation: they sign nothing, but `doctor`
    # shows and checks their records, which DNS must serve until mail signed with them
    # has arrived
    retiring: tuple[tuple[str, str], ...] = ()

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        """(selector, PEM) of every configured key, the signing one first."""
        return ((self.selector, self.private_key), *self.retiring)

    @property
    def enabled(self) -> bool:
        return bool(self.private_key)


@dataclass(frozen=True)
class PeerConfig:
    """One [[peer]]: a node we share an HMAC secret with (already resolved)."""

    name: str
    node: str
    secret: str  # the one that signs: the first given
    domains: tuple[str, ...] = ()  # mail domains of its lists; default: node, if a domain
    smtp: str | None = None  # "smtp://host:port" to reach it directly, else the smarthost
    smtp_host: str | None = None
    smtp_port: int | None = None
    retiring: tuple[str, ...] = ()  # older secrets, still accepted during a rotation
    trust: str = "secret"  # "secret": HMAC relay signatures; "dkim": its DKIM key in DNS
    web: str = ""  # its web face (http(s)://...): asked by network searches; "": not asked

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret a relay from this peer may be signed with, the signing one first."""
        return (self.secret, *self.retiring)


@dataclass(frozen=True)
class RouteConfig:
    """One [[route]]; match holds subject_tag, header, sender and any as written."""

    name: str
    from_: str
    to: tuple[str, ...]
    match: Mapping[str, object]
    follow_thread: bool = False
    prefix: str | None = None
    forward: bool = True


@dataclass(frozen=True)
class BridgeConfig:
    """One [[bridge]]: SMTP when address is set, IMAP when imap is set.

    `match` chooses the local posts that go out (the route conditions; empty: every post);
    `direction` is both, in (only take the foreign list's posts) or out (only send)."""

    name: str
    list: str
    foreign: str
    address: str | None = None
    imap: str | None = None
    username: str | None = None
    password: str | None = None
    post_as: str | None = None
    smtp: str | None = None
    smtp_host: str | None = None  # smtp, read
    smtp_port: int | None = None
    match: Mapping[str, object] = field(default_factory=dict)
    direction: str = "both"
    # how long a foreign member's direct copy (unproven, naming the foreign list only in
    # To/Cc) waits for the foreign list's own copy, which makes it a duplicate
    direct_wait: float = 600.0
    foreign_tag: str = ""  # the foreign list's subject tag; "": "[LOCAL]" of `foreign`
    retag: str = "keep"  # that tag on our members' copies: keep, strip, or a tag to show

    @property
    def subject_tag(self) -> str:
        """The tag the foreign list puts before its subjects (found in any case)."""
        return self.foreign_tag or f"[{self.foreign.rpartition('@')[0]}]"

    @property
    def shown_tag(self) -> str:
        """What our members' copies show in its place ("" : nothing)."""
        return {"keep": self.subject_tag, "strip": ""}.get(self.retag, self.retag)

    @property
    def identity(self) -> str:
        """The subscribed address: envelope sender and From of what goes out."""
        return self.address or self.post_as or self.username or ""

    @property
    def takes_in(self) -> bool:
        return self.direction in ("both", "in")

    @property
    def sends_out(self) -> bool:
        return self.direction in ("both", "out")


@dataclass(frozen=True)
class Unresolved:
    """A secret the file names (`env:VAR`, `file:PATH`) that could not be read, when the
    config was loaded for a command that may not need it: left "" in its section."""

    key: str  # its key path, e.g. peer[0].secret
    problem: str  # e.g. environment variable LISTFED_PEER_SECRET is not set


@dataclass(frozen=True)
class Config:
    """The whole file; path is None for the embedded defaults."""

    node: NodeConfig
    smtp: SmtpConfig
    delivery: DeliveryConfig
    archive: ArchiveConfig
    storage: StorageConfig
    members: MembersConfig
    dns: DnsConfig
    dkim: DkimConfig
    peers: tuple[PeerConfig, ...]
    routes: tuple[RouteConfig, ...]
    bridges: tuple[BridgeConfig, ...]
    path: Path | None = None
    web: WebConfig = field(default_factory=WebConfig)
    unresolved: tuple[Unresolved, ...] = ()

    def need_secrets(self, *sections: str) -> Config:
        """This config, when the secrets under these key paths (`peer`, `bridge[2]`,
        `dkim`; all when none is given) were read; else a ConfigError that names the
        first missing one's key and what is missing."""
        for missing in self.unresolved:
            if not sections or any(_under(missing.key, s) for s in sections):
                raise ConfigError(missing.problem, key=missing.key)
        return self


def _under(key: str, section: str) -> bool:
    """Is `key` (peer[0].secret) in `section` (peer, peer[0]), not merely spelt alike?"""
    return key.startswith(section) and key[len(section) : len(section) + 1] in ("", ".", "[")
