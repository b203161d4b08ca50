"""Parsers for each section of listfed.toml, and the secrets peers and bridges name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from listfed.addresses import candidates
from listfed.config.settings import (
    BridgeConfig,
    DeliveryConfig,
    DkimConfig,
    MembersConfig,
    NodeConfig,
    PeerConfig,
    RouteConfig,
    SmtpConfig,
    Unresolved,
    WebConfig,
)
from listfed.config.values import (
    _DOMAIN,
    _address,
    _base_url,
    _bool,
    _checked,
    _count,
    _domain,
    _duration,
    _imap_url,
    _int,
    _items,
    _listen,
    _network,
    _nonempty,
    _period,
    _Reader,
    _size,
    _smtp_url,
    _str,
    _Table,
    _text,
    _token,
    _web_url,
)
from listfed.errors import ConfigError

_HEADER_NAME = re.compile(r"[!-9;-~]+", re.ASCII)


def _headers(value: object, key: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("expected a non-empty table of header name = regex", key=key)
    return MappingProxyType({name: _regex(name, pattern, key) for name, pattern in value.items()})


def _regex(name: str, pattern: object, key: str) -> str:
    path = f"{key}.{name}"
    if not _HEADER_NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not a header name", key=path)
    try:
        re.compile(_str(pattern, path))
    except re.error as exc:
        raise ConfigError(f"bad regular expression: {exc}", key=path) from None
    return _str(pattern, path)


def _match(value: object, key: str) -> Mapping[str, object]:
    readers: dict[str, _Reader[object]] = {
        "subject_tag": _text,
        "header": _headers,
        "sender": _text,
        "any": _bool,
    }
    table = _Table(value, key, tuple(readers))
    return MappingProxyType({n: readers[n](v, table.key(n)) for n, v in table.data.items()})


def _node(value: object, base_dir: Path) -> NodeConfig:
    t = _Table(value, "node", _fields(NodeConfig))
    name = t.get("name", _token, "localhost")
    if "domains" in t.data:
        domains = _nonempty(_items(t.data["domains"], t.key("domains"), _domain), t.key("domains"))
    elif _DOMAIN.fullmatch(name.lower()):
        domains = (name.lower(),)
    else:
        raise ConfigError(
            f"node.name {name!r} is not a domain, so set node.domains", key=t.key("domains")
        )
    return NodeConfig(
        name=name,
        domains=domains,
        data_dir=base_dir / t.get("data_dir", _text, "var"),
        base_url=t.get("base_url", _base_url, NodeConfig.base_url),
        hop_limit=t.get("hop_limit", _count, NodeConfig.hop_limit),
        signature_max_age=t.get("signature_max_age", _period, NodeConfig.signature_max_age),
        accept_v1_signatures=t.get("accept_v1_signatures", _bool, NodeConfig.accept_v1_signatures),
        sign_v1=t.get("sign_v1", _bool, NodeConfig.sign_v1),
        processes=t.get("processes", _processes, NodeConfig.processes),
    )


def _processes(value: object, key: str) -> int:
    if isinstance(value, bool) or value not in (1, 2):
        raise ConfigError(f"must be 1 or 2, got {value!r}", key=key)
    return int(value)


def _recipient_limit(value: object, key: str) -> int:
    """RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients per transaction."""
    limit = _int(value, key)
    if limit < 100:
        raise ConfigError(
            f"must be at least 100 (RFC 5321 requires a server to accept 100 recipients "
            f"per message), got {limit}",
            key=key,
        )
    return limit


def _smtp(value: object) -> SmtpConfig:
    keys = (
        *("listen", "lmtp", "max_message_size", "max_connections"),
        *("max_connections_per_client", "max_recipients", "timeout", "data_timeout"),
        "session_timeout",
        "min_data_rate",
    )
    t = _Table(value, "smtp", keys)
    host, port = t.get("listen", _listen, (SmtpConfig.host, SmtpConfig.port))
    return SmtpConfig(
        host=host,
        port=port,
        lmtp=t.get("lmtp", _bool, SmtpConfig.lmtp),
        max_message_size=t.get("max_message_size", _size, SmtpConfig.max_message_size),
        max_connections=t.get("max_connections", _count, SmtpConfig.max_connections),
        max_connections_per_client=t.get(
            "max_connections_per_client", _count, SmtpConfig.max_connections_per_client
        ),
        max_recipients=t.get("max_recipients", _recipient_limit, SmtpConfig.max_recipients),
        timeout=t.get("timeout", _duration, SmtpConfig.timeout),
        data_timeout=t.get("data_timeout", _duration, SmtpConfig.data_timeout),
        session_timeout=t.get("session_timeout", _duration, SmtpConfig.session_timeout),
        min_data_rate=t.get("min_data_rate", _at_least_zero, SmtpConfig.min_data_rate),
    )


def _at_least_zero(value: object, key: str) -> int:
    if _int(value, key) < 0:
        raise ConfigError("must be 0 or more", key=key)
    return _int(value, key)


def _web(value: object) -> WebConfig:
    keys = ("listen", "metrics_from", "workers", "network_deadline", "search_rate", "priority")
    t = _Table(value, "web", keys)
    nothing: tuple[str, ...] = ()
    networks = t.get("metrics_from", lambda v, k: _items(v, k, _network), nothing)
    workers = t.get("workers", _workers, WebConfig.workers)
    deadline = t.get("network_deadline", _period, WebConfig.network_deadline)
    rate = t.get("search_rate", _count, WebConfig.search_rate)
    priority = t.get("priority", _str, WebConfig.priority)
    if priority not in WEB_PRIORITIES:
        raise ConfigError(f"expected idle or low, got {priority!r}", key=t.key("priority"))
    enabled = t.data.get("listen") != ""  # "" turns the web face off
    default = (WebConfig.host, WebConfig.port)
    host, port = t.get("listen", _listen, default) if enabled else default
    return WebConfig(
        host=host,
        port=port,
        enabled=enabled,
        metrics_from=networks,
        workers=workers,
        network_deadline=deadline,
        search_rate=rate,
        priority=priority,
    )


MOST_WEB_WORKERS = 64
WEB_PRIORITIES = ("idle", "low")


def _workers(value: object, key: str) -> int:
    """[web] workers: "auto" (0: WebConfig.processes decides) or a number of processes."""
    if value == "auto":
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MOST_WEB_WORKERS:
        raise ConfigError(
            f'expected "auto" or a number from 1 to {MOST_WEB_WORKERS}, got {value!r}', key=key
        )
    return value


def _delivery(value: object, base_dir: Path) -> DeliveryConfig:
    t = _Table(value, "delivery", _fields(DeliveryConfig, "maildir", "smtp_host", "smtp_port"))
    smarthost = t.get("smarthost", _str, DeliveryConfig.smarthost)
    maildir, host, port = None, None, None
    if smarthost.startswith("maildir:") and smarthost.removeprefix("maildir:").strip():
        maildir = base_dir / smarthost.removeprefix("maildir:")
    else:
        try:
            host, port = _smtp_url(smarthost)
        except ValueError:
            message = f"expected 'maildir:PATH' or 'smtp://host[:port]', got {smarthost!r}"
            raise ConfigError(message, key=t.key("smarthost")) from None
    verp = t.get("verp", _str, DeliveryConfig.verp)
    if verp not in ("never", "probes", "always"):
        raise ConfigError(f"expected never, probes or always, got {verp!r}", key=t.key("verp"))
    retry = t.get("retry", lambda v, k: _items(v, k, _duration), DeliveryConfig.retry)
    return DeliveryConfig(
        smarthost=smarthost,
        maildir=maildir,
        smtp_host=host,
        smtp_port=port,
        connections=t.get("connections", _count, DeliveryConfig.connections),
        recipients_per_transaction=t.get(
            "recipients_per_transaction", _count, DeliveryConfig.recipients_per_transaction
        ),
        retry=_nonempty(retry, t.key("retry")),
        verp=verp,
    )


def _members(value: object) -> MembersConfig:
    t = _Table(value, "members", _fields(MembersConfig))
    d = MembersConfig
    return MembersConfig(
        confirm_expiry=t.get("confirm_expiry", _period, d.confirm_expiry),
        replies_per_hour=t.get("replies_per_hour", _count, d.replies_per_hour),
        bounce_reset_after=t.get("bounce_reset_after", _period, d.bounce_reset_after),
    )


def _dkim(value: object, secrets: Secrets, domains: tuple[str, ...]) -> DkimConfig:
    t = _Table(value, "dkim", _fields(DkimConfig, "retiring"))
    # one selector and key, or during a rotation a list of each, the new (signing) first
    default: tuple[str, ...] = (DkimConfig.selector,)
    unset: tuple[str, ...] = ("",)
    selectors = t.get("selector", _one_or_more(_token), default)
    given = t.get("private_key", _one_or_more(_str), unset)
    rotating = isinstance(t.data.get("private_key"), list)
    if not selectors or len(given) != len(selectors):
        raise ConfigError(
            f"{len(selectors)} selector(s) for {len(given)} key(s): give a list of "
            "each, as long, the signing one first",
            key=t.key("private_key"),
        )
    pems = [
        _dkim_key(secrets, key, t.key("private_key") + (f"[{i}]" if rotating else ""))
        for i, key in enumerate(given)
    ]
    none: tuple[str, ...] = ()
    signing = t.get("domains", lambda v, k: _items(v, k, _domain), none)
    for i, domain in enumerate(signing):
        if domain not in domains:
            raise ConfigError(f"{domain} is not one of [node] domains", key=f"dkim.domains[{i}]")
    return DkimConfig(
        selector=selectors[0],
        private_key=pems[0],
        domains=signing,
        arc=t.get("arc", _bool, DkimConfig.arc),
        retiring=tuple(zip(selectors[1:], pems[1:], strict=True)),
    )


def _one_or_more(read: _Reader[str]) -> _Reader[tuple[str, ...]]:
    def both(value: object, key: str) -> tuple[str, ...]:
        return _items(value, key, read) if isinstance(value, list) else (read(value, key),)

    return both


def _dkim_key(secrets: Secrets, key: str, where: str) -> str:
    """The PEM text of `key` (a secret), "" when none is given or it cannot be read yet."""
    pem = secrets.read(key, where) if key else ""
    if pem is not None and key and "PRIVATE KEY-----" not in pem:
        raise ConfigError("expected a PEM private key (BEGIN ... PRIVATE KEY)", key=where)
    return pem or ""


def _peer(value: object, path: str, secrets: Secrets) -> PeerConfig:
    t = _Table(value, path, _fields(PeerConfig, "smtp_host", "smtp_port", "retiring"))
    name, node = t.need("name", _text), t.need("node", _token)
    trust = t.get("trust", _str, PeerConfig.trust)
    if trust not in ("secret", "dkim"):
        raise ConfigError(f"expected secret or dkim, got {trust!r}", key=t.key("trust"))
    if trust == "dkim" and "secret" not in t.data:  # trusted by the key it publishes
        return _peer_fields(t, name, node, "", (), trust)
    # a string, or a list during a rotation: the new secret first (it signs), then the
    # ones still accepted until the peer has switched
    given = t.need("secret", _one_or_more(_text))
    if not given:
        raise ConfigError("no secret given", key=t.key("secret"))
    read = [
        secrets.read(v, t.key("secret") if len(given) == 1 else f"{t.key('secret')}[{i}]")
        for i, v in enumerate(given)
    ]
    if "" in read:
        raise ConfigError("the secret is empty", key=t.key("secret"))
    return _peer_fields(t, name, node, read[0] or "", tuple(r for r in read[1:] if r), trust)


def _peer_fields(
    t: _Table, name: str, node: str, secret: str, retiring: tuple[str, ...], trust: str
) -> PeerConfig:
    if "domains" in t.data:
        domains = _nonempty(_items(t.data["domains"], t.key("domains"), _domain), t.key("domains"))
    else:
        domains = (node.lower(),) if _DOMAIN.fullmatch(node.lower()) else ()
    smtp = t.get("smtp", _checked(_smtp_url), None)
    host, port = _smtp_url(smtp) if smtp is not None else (None, None)
    return PeerConfig(
        web=t.get("web", _web_url, ""),
        name=name,
        node=node,
        secret=secret,
        retiring=retiring,
        trust=trust,
        domains=domains,
        smtp=smtp,
        smtp_host=host,
        smtp_port=port,
    )


def _lower_domain(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _route(value: object, path: str, domains: tuple[str, ...]) -> RouteConfig:
    t = _Table(value, path, ("from", *_fields(RouteConfig, "from_")))
    name = t.need("name", _text)
    source = _lower_domain(t.need("from", _address))
    _hosted(source, domains, f"route {name!r}:", t.key("from"))
    targets = _nonempty(t.need("to", lambda v, k: _items(v, k, _address)), t.key("to"))
    targets = tuple(dict.fromkeys(_lower_domain(a) for a in targets))
    if source.casefold() in (a.casefold() for a in targets):
        raise ConfigError(f"route {name!r} sends {source} to itself", key=t.key("to"))
    return RouteConfig(
        name=name,
        from_=source,
        to=targets,
        match=t.get("match", _match, MappingProxyType({})),
        follow_thread=t.get("follow_thread", _bool, RouteConfig.follow_thread),
        prefix=t.get("prefix", _str, RouteConfig.prefix),
        forward=t.get("forward", _bool, RouteConfig.forward),
    )


def _bridge(value: object, path: str, secrets: Secrets, domains: tuple[str, ...]) -> BridgeConfig:
    t = _Table(value, path, _fields(BridgeConfig, "smtp_host", "smtp_port"))
    name, local, foreign = (
        t.need("name", _text),
        t.need("list", _address).lower(),  # list names are stored lower-case
        _lower_domain(t.need("foreign", _address)),
    )
    _hosted(local, domains, f"bridge {name!r}: the list", t.key("list"))
    if foreign.casefold() == local.casefold():
        raise ConfigError(f"bridge {name!r} bridges {local} to itself", key=t.key("foreign"))
    empty: Mapping[str, object] = MappingProxyType({})
    if foreign.rpartition("@")[2] in domains:
        raise ConfigError(
            f"bridge {name!r}: {foreign} is at a domain this node hosts: use a [[route]]",
            key=t.key("foreign"),
        )
    common: dict[str, Any] = {
        "name": name,
        "list": local,
        "foreign": foreign,
        "match": t.get("match", _match, empty),
        "direction": t.get("direction", _choice(("both", "in", "out")), BridgeConfig.direction),
        "direct_wait": t.get("direct_wait", _duration, BridgeConfig.direct_wait),
        "foreign_tag": t.get("foreign_tag", _tag, BridgeConfig.foreign_tag),
        "retag": t.get("retag", _tag, BridgeConfig.retag),
    }
    address, imap = t.get("address", _address, None), t.get("imap", _checked(_imap_url), None)
    if address is not None and imap is not None:
        raise ConfigError("an SMTP bridge (address) cannot also be an IMAP one", key=t.key("imap"))
    if address is not None:
        for key in ("username", "password", "post_as", "smtp"):
            if key in t.data:
                raise ConfigError("only IMAP bridges (with imap = ...) take this", key=t.key(key))
        address = _lower_domain(address)
        _hosted(address, domains, f"bridge {name!r}: the address", t.key("address"))
        a_local, _, a_domain = address.rpartition("@")
        if any(r.list_address == local for r in candidates(a_local, a_domain)):
            raise ConfigError(
                f"bridge {name!r}: {address} is an address of its own list {local}: "
                "the bridge needs an address of its own",
                key=t.key("address"),
            )
        return BridgeConfig(address=address, **common)
    if imap is None:
        raise ConfigError("set either address (SMTP bridge) or imap (IMAP bridge)", key=path)
    username = t.need("username", _text)
    post_as = t.get("post_as", _address, None)
    if post_as is None and "@" in username:
        post_as = _address(username, t.key("username"))
    if post_as is None and common["direction"] != "in":
        raise ConfigError(
            "set post_as: the subscribed address that relays go out as", key=t.key("post_as")
        )
    smtp = t.get("smtp", _checked(_smtp_url), None)
    host, port = _smtp_url(smtp) if smtp is not None else (None, None)
    return BridgeConfig(
        imap=imap,
        username=username,
        password=secrets.read(t.need("password", _text), t.key("password")) or "",
        post_as=post_as,
        smtp=smtp,
        smtp_host=host,
        smtp_port=port,
        **common,
    )


def _tag(value: object, key: str) -> str:
    """A subject tag: one line of text, not blank, at most 60 characters."""
    text = " ".join(_str(value, key).split())
    if not text or len(text) > 60:
        raise ConfigError('expected a subject tag such as "[atl]" (1 to 60 characters)', key=key)
    return text


def _hosted(address: str, domains: tuple[str, ...], what: str, key: str) -> None:
    if address.rpartition("@")[2] not in domains:
        hosted = ", ".join(domains)
        raise ConfigError(
            f"{what} {address} is not at a domain this node hosts ({hosted})", key=key
        )


def _choice(allowed: tuple[str, ...]) -> Any:
    def read(value: object, key: str) -> str:
        text = _str(value, key)
        if text not in allowed:
            raise ConfigError(f"expected one of {', '.join(allowed)}, got {text!r}", key=key)
        return text

    return read


def _fields(cls: type[Any], *skip: str) -> tuple[str, ...]:
    """The TOML keys of a section that are spelled like its dataclass fields."""
    return tuple(f.name for f in fields(cls) if f.name not in skip)


class Secrets:
    """Reads the secrets a config names. `lenient`: one that cannot be read (an unset
    variable, a missing file) is None and noted in `unresolved`, for commands that may
    not need it (Config.need_secrets asks for it later); else it stops the load."""

    def __init__(self, env: Mapping[str, str], base_dir: Path, lenient: bool = False) -> None:
        self.env = env
        self.base_dir = base_dir
        self.lenient = lenient
        self.unresolved: list[Unresolved] = []

    def read(self, value: str, key: str) -> str | None:
        try:
            return resolve_secret(value, key, self.env, self.base_dir)
        except ConfigError as exc:
            kind, _, name = value.partition(":")
            if not (self.lenient and kind in ("env", "file") and name):
                raise
            self.unresolved.append(Unresolved(key, str(exc).removeprefix(f"{key}: ")))
            return None


def resolve_secret(value: str, key: str, env: Mapping[str, str], base_dir: Path) -> str:
    """Turn "env:VAR" or "file:PATH" into the secret itself; other values are literal."""
    kind, sep, name = value.partition(":")
    if not sep or kind not in ("env", "file"):
        return value
    if not name:
        raise ConfigError(f"{kind}: needs a name after the colon", key=key)
    if kind == "env":
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set", key=key)
        return env[name]
    target = base_dir / name
    try:
        return target.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read secret file {target}: {reason}", key=key) from None
