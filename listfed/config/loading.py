"""Read listfed.toml (found by listfed/configfile.py) and build the whole Config."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, TypeVar

from listfed.config.sections import (
    Secrets,
    _bridge,
    _delivery,
    _dkim,
    _fields,
    _members,
    _node,
    _peer,
    _route,
    _smtp,
    _web,
)
from listfed.config.settings import (
    ArchiveConfig,
    BridgeConfig,
    Config,
    DnsConfig,
    PeerConfig,
    StorageConfig,
)
from listfed.config.values import _bool, _checked, _duration, _items, _nameserver, _Table
from listfed.configfile import SYSTEM_CONFIG, find_config
from listfed.errors import ConfigError


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)


def _unique(items: tuple[_N, ...], section: str) -> tuple[_N, ...]:
    names = [item.name for item in items]
    for i, name in enumerate(names):
        if name in names[:i]:
            where = f"{section}[{names.index(name)}]"
            raise ConfigError(f"duplicate name {name!r} (see {where})", key=f"{section}[{i}].name")
    return items


def _distinct_addresses(bridges: tuple[BridgeConfig, ...]) -> tuple[BridgeConfig, ...]:
    """An SMTP bridge's address is its own: mail to it is that bridge's alone."""
    seen: dict[str, int] = {}
    for i, bridge in enumerate(bridges):
        if bridge.address is None:
            continue
        key = bridge.address.casefold()
        if key in seen:
            raise ConfigError(
                f"{bridge.address} is already the address of bridge[{seen[key]}]",
                key=f"bridge[{i}].address",
            )
        seen[key] = i
    return bridges


def _distinct_nodes(peers: tuple[PeerConfig, ...], own: str) -> None:
    """Each peer is another node, and no node is two peers (signatures name the node)."""
    seen: dict[str, int] = {}
    for i, peer in enumerate(peers):
        key = peer.node.casefold()
        if key == own.casefold():
            raise ConfigError(f"{peer.node!r} is this node's own name", key=f"peer[{i}].node")
        if key in seen:
            raise ConfigError(
                f"node {peer.node!r} is already peer[{seen[key]}]", key=f"peer[{i}].node"
            )
        seen[key] = i


def parse_config(
    data: Mapping[str, object],
    base_dir: Path,
    env: Mapping[str, str],
    path: Path | None = None,
    *,
    lenient_secrets: bool = False,
) -> Config:
    """Check a parsed TOML document and build the Config; relative paths use base_dir.
    `lenient_secrets`: a secret that cannot be read does not stop it (see Secrets)."""
    secrets = Secrets(env, base_dir, lenient_secrets)
    top = _Table(
        data,
        "",
        (*_fields(Config, "peers", "routes", "bridges", "path"), "peer", "route", "bridge"),
    )
    sub = {
        name: top.data.get(name, {})
        for name in (
            "node",
            "smtp",
            "delivery",
            "archive",
            "storage",
            "dns",
            "members",
            "dkim",
            "web",
        )
    }
    archive = _Table(sub["archive"], "archive", _fields(ArchiveConfig))
    storage = _Table(sub["storage"], "storage", _fields(StorageConfig))
    dns = _Table(sub["dns"], "dns", _fields(DnsConfig))
    nameservers = _checked(_nameserver)
    # built in file order, so the first error reported is the first one in the file
    node = _node(sub["node"], base_dir)
    peers = _unique(tuple(_peer(v, p, secrets) for v, p in top.array("peer")), "peer")
    _distinct_nodes(peers, node.name)
    return Config(
        node=node,
        smtp=_smtp(sub["smtp"]),
        delivery=_delivery(sub["delivery"], base_dir),
        archive=ArchiveConfig(archive.get("enabled", _bool, ArchiveConfig.enabled)),
        storage=StorageConfig(storage.get("busy_timeout", _duration, StorageConfig.busy_timeout)),
        dns=DnsConfig(
            dns.get("nameservers", lambda v, k: _items(v, k, nameservers), ()),
            dns.get("timeout", _duration, DnsConfig.timeout),
        ),
        members=_members(sub["members"]),
        dkim=_dkim(sub["dkim"], secrets, node.domains),
        peers=peers,
        routes=_unique(tuple(_route(v, p, node.domains) for v, p in top.array("route")), "route"),
        bridges=_distinct_addresses(
            _unique(
                tuple(_bridge(v, p, secrets, node.domains) for v, p in top.array("bridge")),
                "bridge",
            )
        ),
        path=path,
        web=_web(sub["web"]),
        unresolved=tuple(secrets.unresolved),
    )


def load_config(
    explicit: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    system: Path = SYSTEM_CONFIG,
    lenient_secrets: bool = False,
) -> Config:
    """Find, read and check the config; with no file, the defaults rooted at cwd.
    `lenient_secrets`: for commands that may not need every secret (see Secrets)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    path = find_config(explicit, env, cwd, system=system)
    if path is None:
        return parse_config({}, cwd, env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return parse_config(data, path.parent, env, path, lenient_secrets=lenient_secrets)
    except ConfigError as exc:
        # the file came from a search, so say which one was read
        message = str(exc).removeprefix(f"{exc.key}: ")
        raise ConfigError(f"{message} (in {path})", key=exc.key) from None
