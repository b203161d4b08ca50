"""Readers for single config values; each raises a ConfigError naming the key."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from listfed.errors import ConfigError
from listfed.units import parse_duration, parse_size

T = TypeVar("T")
_Reader = Callable[[object, str], T]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*", re.ASCII)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)
_HOST_PORT = re.compile(
    r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?))(?::([0-9]{1,5}))?",
    re.ASCII,
)


class _Table:
    """A TOML table at a key path, refusing keys it does not know."""

    def __init__(self, value: object, path: str, keys: Sequence[str]) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a table, got {_kind(value)}", key=path)
        self.data: Mapping[str, object] = value
        self.path = path
        for name in value:
            if name not in keys:
                raise ConfigError("unknown key", key=self.key(name))

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, read: _Reader[T], default: T) -> T:
        return read(self.data[name], self.key(name)) if name in self.data else default

    def need(self, name: str, read: _Reader[T]) -> T:
        if name not in self.data:
            raise ConfigError("required key is missing", key=self.key(name))
        return read(self.data[name], self.key(name))

    def array(self, name: str) -> list[tuple[object, str]]:
        """The items of an array of tables ([[name]]) with their key paths."""
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise ConfigError(f"expected an array of tables ([[{name}]])", key=self.key(name))
        return [(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _str(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {_kind(value)}", key=key)
    return value


def _text(value: object, key: str) -> str:
    if not _str(value, key).strip():
        raise ConfigError("must not be empty", key=key)
    return _str(value, key)


def _token(value: object, key: str) -> str:
    if not _TOKEN.fullmatch(_str(value, key)):
        raise ConfigError(f"{value!r} may hold only letters, digits, '.', '-', '_'", key=key)
    return _str(value, key)


def _address(value: object, key: str) -> str:
    local, at, domain = _str(value, key).rpartition("@")
    if not (local and at and _DOMAIN.fullmatch(domain.lower())) or any(c.isspace() for c in local):
        raise ConfigError(f"{value!r} is not a mail address", key=key)
    return _str(value, key)


def _domain(value: object, key: str) -> str:
    domain = _str(value, key).lower()
    if not _DOMAIN.fullmatch(domain):
        raise ConfigError(f"{value!r} does not look like a domain", key=key)
    return domain


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {_kind(value)}", key=key)
    return value


def _int(value: object, key: str) -> int:
    # TOML booleans arrive as Python bools, which are ints
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected an integer, got {_kind(value)}", key=key)
    return value


def _count(value: object, key: str) -> int:
    if _int(value, key) < 1:
        raise ConfigError(f"must be at least 1, got {value}", key=key)
    return _int(value, key)


def _duration(value: object, key: str) -> float:
    try:
        if isinstance(value, str | int | float):
            return parse_duration(value)
        raise ValueError(f"expected a duration such as '5m', got {_kind(value)}")
    except ValueError as exc:
        raise ConfigError(str(exc), key=key) from None


def _period(value: object, key: str) -> float:
    if _duration(value, key) <= 0:
        raise ConfigError("must be longer than zero", key=key)
    return _duration(value, key)


def _size(value: object, key: str) -> int:
    try:
        if isinstance(value, str | int):
            size = parse_size(value)
        else:
            raise ValueError(f"expected a size such as '10MB', got {_kind(value)}")
    except ValueError as exc:
        raise ConfigError(str(exc), key=key) from None
    if size < 1:
        raise ConfigError("must be at least 1 byte", key=key)
    return size


def _items(value: object, key: str, read: _Reader[T]) -> tuple[T, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"expected an array, got {_kind(value)}", key=key)
    return tuple(read(item, f"{key}[{i}]") for i, item in enumerate(value))


def _list_of_str(value: object, key: str) -> tuple[str, ...]:
    return _items(value, key, _text)


def _nonempty(items: tuple[T, ...], key: str) -> tuple[T, ...]:
    if not items:
        raise ConfigError("must not be empty", key=key)
    return items


def _host_port(text: str, default_port: int | None, lowest: int = 1) -> tuple[str, int]:
    """Split "host:port" or "[v6]:port"; ValueError when it is neither."""
    match = _HOST_PORT.fullmatch(text)
    if match is None:
        raise ValueError(f"expected host:port or [IPv6]:port, got {text!r}")
    v6, host, port = match.groups()
    if v6 is not None:
        host = str(ipaddress.IPv6Address(v6))
    if port is None:
        if default_port is None:
            raise ValueError(f"{text!r} needs a port (host:port)")
        return host, default_port
    if not lowest <= int(port) <= 65535:
        raise ValueError(f"port {port} is out of range {lowest}-65535")
    return host, int(port)


def _network(value: object, key: str) -> str:
    """A CIDR network ("10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128)."""
    try:
        return str(ipaddress.ip_network(_str(value, key).strip(), strict=False))
    except ValueError:
        raise ConfigError(f"expected a network like '10.0.0.0/8', got {value!r}", key=key) from None


def _listen(value: object, key: str) -> tuple[str, int]:
    try:
        # port 0 lets tests ask the OS for a free port
        return _host_port(_str(value, key), None, lowest=0)
    except ValueError as exc:
        raise ConfigError(str(exc), key=key) from None


def _smtp_url(text: str) -> tuple[str, int]:
    if not text.startswith("smtp://"):
        raise ValueError(f"expected smtp://host[:port], got {text!r}")
    return _host_port(text.removeprefix("smtp://").removesuffix("/"), 25)


def _checked(parse: Callable[[str], object]) -> _Reader[str]:
    """A reader that keeps the string as written once parse accepts it."""

    def read(value: object, key: str) -> str:
        try:
            parse(_str(value, key))
        except ValueError as exc:
            raise ConfigError(str(exc), key=key) from None
        return _str(value, key)

    return read


def _imap_url(text: str) -> object:
    scheme, sep, rest = text.partition("://")
    if scheme not in ("imap", "imaps") or not sep:
        raise ValueError(f"expected imap://host[:port][/MAILBOX] or imaps://..., got {text!r}")
    host, port = _host_port(rest.partition("/")[0], 993 if scheme == "imaps" else 143)
    if scheme == "imap" and not is_loopback(host):
        # plain IMAP would send the login in clear across the network (listfed has no
        # STARTTLS for IMAP): only a server on this machine may be reached that way
        raise ValueError(f"imap:// sends the password in clear: use imaps:// for {host}")
    return host, port


def is_loopback(host: str) -> bool:
    """Is `host` (a name or an address, IPv6 with or without brackets) this machine?"""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _nameserver(text: str) -> object:
    # a bare IPv6 address has colons but no port; dnspython wants addresses, not names
    bare = text.count(":") > 1 and not text.startswith("[")
    return ipaddress.ip_address(text if bare else _host_port(text, 53)[0])


def _base_url(value: object, key: str) -> str:
    url = _str(value, key)
    if url and (not re.fullmatch(r"https://[^/\s]+(/\S*)?", url)):
        raise ConfigError(f"expected '' or an https:// URL, got {url!r}", key=key)
    return url.rstrip("/")


def _web_url(value: object, key: str) -> str:
    """A peer's web face: http(s)://host[:port][/path], no user or query (https:// off
    loopback, but tests and a private network may use http://)."""
    url = _str(value, key)
    if not re.fullmatch(r"https?://[^/\s@?#]+(/[^\s?#]*)?", url):
        raise ConfigError(f"expected an http:// or https:// URL, got {url!r}", key=key)
    return url.rstrip("/")
