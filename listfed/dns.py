"""DNS resolvers built from `[dns] nameservers`, so that tests can answer from a stub.

An empty tuple means the system resolver (/etc/resolv.conf). Names are always queried as
absolute names, so resolv.conf's `search` list never applies.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from dns.rdtypes.txtbase import TXTBase

log = logging.getLogger("listfed.dns")

RESOLV_CONF = "/etc/resolv.conf"

_R = TypeVar("_R", bound=dns.resolver.BaseResolver)


def make_resolver(
    nameservers: tuple[str, ...],
    timeout: float = 5.0,
    *,
    resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
) -> dns.asyncresolver.Resolver:
    """An async resolver for these nameservers ("IP", "IP:port", "[IPv6]:port")."""
    return _configured(dns.asyncresolver.Resolver, nameservers, timeout, resolv_conf)


def sync_resolver(
    nameservers: tuple[str, ...],
    timeout: float = 5.0,
    *,
    resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
) -> dns.resolver.Resolver:
    """A blocking resolver for these nameservers (dkimpy's look-ups, `doctor`)."""
    return _configured(dns.resolver.Resolver, nameservers, timeout, resolv_conf)


def txt_lookup(
    nameservers: tuple[str, ...],
    timeout: float = 5.0,
    *,
    resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
) -> Callable[..., bytes | None]:
    """A synchronous `dnsfunc(name, timeout=...)` for dkimpy: the first TXT record at
    `name`, its strings joined, or None when there is none or the lookup failed."""
    resolver = sync_resolver(nameservers, timeout, resolv_conf=resolv_conf)

    def lookup(name: bytes | str, timeout: float | None = None) -> bytes | None:
        # the shorter of dkimpy's limit and ours: nobody waits longer than they said
        lifetime = resolver.lifetime if timeout is None else min(timeout, resolver.lifetime)
        try:
            text = name.decode("ascii") if isinstance(name, bytes) else name
            answer = resolver.resolve(
                dns.name.from_text(text),
                "TXT",
                lifetime=lifetime,
                search=False,
                raise_on_no_answer=False,
            )
        except (UnicodeError, dns.exception.DNSException, OSError):
            # dkimpy reads None as "no key"; it has no way to hear "try again later"
            return None
        for rdata in answer.rrset or ():
            if isinstance(rdata, TXTBase):
                return b"".join(rdata.strings)
        return None

    return lookup


def _configured(
    kind: type[_R],
    nameservers: tuple[str, ...],
    timeout: float,
    resolv_conf: str | os.PathLike[str],
) -> _R:
    if nameservers:
        resolver = kind(configure=False)
        resolver.nameservers = [_nameserver(text) for text in nameservers]
    else:
        resolver = _system(kind, resolv_conf)
    # one deadline for the whole lookup, within which each server gets one try: a slow
    # DNS must not stall a worker, and a dead first server must not hide the second
    resolver.lifetime = timeout
    resolver.timeout = timeout / max(1, len(resolver.nameservers))
    resolver.retry_servfail = False
    return resolver


def _system(kind: type[_R], resolv_conf: str | os.PathLike[str]) -> _R:
    """The system resolver; without a usable resolv.conf, 127.0.0.1 as the C library
    does, so that a container without one still starts (DMARC then fails safe)."""
    try:
        return kind(filename=resolv_conf, configure=True)
    except (dns.exception.DNSException, ValueError, OSError) as exc:
        log.warning("%s is unusable (%s); asking the nameserver on 127.0.0.1", resolv_conf, exc)
    resolver = kind(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    return resolver


def _nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    """Parse "IP", "IP:port", "[IPv6]", "[IPv6]:port" or a bare IPv6 address, which the
    config loader has already checked."""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        return dns.nameserver.Do53Nameserver(address, int(rest[1:]) if rest else 53)
    if text.count(":") == 1:
        address, _, port = text.partition(":")
        return dns.nameserver.Do53Nameserver(address, int(port))
    return dns.nameserver.Do53Nameserver(text, 53)
