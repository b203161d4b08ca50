"""Asking the DNS which DMARC policy a From domain publishes, with a cache.

The walk is the DMARCbis DNS tree walk (no public suffix list): `_dmarc.<domain>`, then
its parents one label at a time (a name of 8 or more labels jumps to its last 7 first),
taking the first valid record found. The walk stops before the top-level domain: PSD
records at TLDs (RFC 9091) are not honoured, which spares every unknown From domain a
query to `_dmarc.<tld>`; a list owner can name such domains in `dmarc_always`.

A failed lookup counts as "mitigate" (SPEC §3): rewriting a post needlessly costs less
than having it rejected by the receivers.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver
from dns.rdtypes.txtbase import TXTBase

from listfed.dmarc.names import ascii_domain


class DmarcPolicy(StrEnum):
    """What a domain publishes in p= or sp=, or why we do not know."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"
    ABSENT = "absent"  # no DMARC record
    UNKNOWN = "unknown"  # the lookup failed, or the domain is not a domain


PUBLISHED = frozenset({DmarcPolicy.NONE, DmarcPolicy.QUARANTINE, DmarcPolicy.REJECT})
MITIGATED = frozenset({DmarcPolicy.QUARANTINE, DmarcPolicy.REJECT, DmarcPolicy.UNKNOWN})
_JUMP = 7  # DMARCbis: a longer name is cut to its last 7 labels after the first query


@dataclass(frozen=True)
class DmarcResult:
    """What a From domain publishes, and one line saying why, for logs and `held show`."""

    domain: str  # lower-case, IDNA/ASCII form (as given when it is not a domain)
    policy: DmarcPolicy  # a StrEnum: compares equal to "reject" etc.
    mitigate: bool
    reason: str


@dataclass(frozen=True)
class _Record:
    p: DmarcPolicy
    sp: DmarcPolicy | None
    note: str  # how the record was read, when not as written


class DmarcLookup:
    """DMARC policies of From domains, cached by the answer's TTL; concurrent checks of
    one domain share one walk."""

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver,
        clock: Callable[[], float] = time.monotonic,
        *,
        absent_ttl: float = 3600.0,
        failure_ttl: float = 60.0,
        max_ttl: float = 86400.0,
        max_entries: int = 10000,
    ) -> None:
        self._resolver = resolver
        self._clock = clock
        self._absent_ttl = absent_ttl
        self._failure_ttl = failure_ttl
        self._max_ttl = max_ttl
        self._max_entries = max_entries
        self._cache: OrderedDict[str, tuple[float, DmarcResult]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[tuple[DmarcResult, float]]] = {}

    async def check(self, domain: str) -> DmarcResult:
        """The policy `domain` publishes; never raises for DNS trouble or a bad name."""
        name = ascii_domain(domain)
        if name is None:
            reason = f"{domain[:100]!r} is not a valid domain: DMARC policy unknown"
            return DmarcResult(domain, DmarcPolicy.UNKNOWN, True, reason)
        cached = self._cached(name)
        if cached is not None:
            return cached
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._walk(name))
            self._inflight[name] = task
            task.add_done_callback(lambda t: self._settle(name, t))
        # shielded: one caller giving up must not cancel the walk the others wait for
        result, _ttl = await asyncio.shield(task)
        return result

    def _cached(self, name: str) -> DmarcResult | None:
        entry = self._cache.get(name)
        if entry is None:
            return None
        expires, result = entry
        if self._clock() < expires:
            return result
        del self._cache[name]
        return None

    def _settle(self, name: str, task: asyncio.Task[tuple[DmarcResult, float]]) -> None:
        """Forget the finished walk; cache its result unless it was cancelled or broke
        (retrieving the exception also keeps asyncio from logging it as lost)."""
        if self._inflight.get(name) is task:
            del self._inflight[name]
        if task.cancelled() or task.exception() is not None:
            return
        result, ttl = task.result()
        self._cache[name] = (self._clock() + ttl, result)
        self._cache.move_to_end(name)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def _walk(self, name: str) -> tuple[DmarcResult, float]:
        """The result for `name` and how long it may be cached."""
        for target in _targets(name):
            try:
                texts, ttl = await self._txt(target)
            except (dns.exception.DNSException, OSError) as exc:
                reason = f"DMARC lookup for {name} failed: {_why(exc)}"
                return DmarcResult(name, DmarcPolicy.UNKNOWN, True, reason), self._failure_ttl
            record = _choose(texts)
            if record is not None:
                return _decide(name, target, record), min(float(ttl), self._max_ttl)
        absent = DmarcResult(name, DmarcPolicy.ABSENT, False, f"no DMARC record for {name}")
        return absent, self._absent_ttl

    async def _txt(self, target: str) -> tuple[list[str], int]:
        """The TXT strings at `_dmarc.<target>` (each record's strings joined) and their TTL;
        NXDOMAIN and an empty answer are no records."""
        qname = dns.name.from_text(f"_dmarc.{target}.")
        try:
            answer = await self._resolver.resolve(
                qname, "TXT", search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return [], 0
        if answer.rrset is None:
            return [], 0
        texts = [
            b"".join(rdata.strings).decode("utf-8", "replace")
            for rdata in answer.rrset
            if isinstance(rdata, TXTBase)
        ]
        return texts, answer.rrset.ttl


def _targets(name: str) -> Iterator[str]:
    """`name`, then its parents down to two labels (at most 7 names in all)."""
    labels = name.split(".")
    yield name
    for keep in range(min(len(labels) - 1, _JUMP), 1, -1):
        yield ".".join(labels[-keep:])


def _choose(texts: list[str]) -> _Record | None:
    """The one valid DMARC record among the TXT records at a name, or None: several
    DMARC records at one name count as none (RFC 7489 §6.6.3)."""
    dmarc = [text for text in texts if _is_dmarc(text)]
    if len(dmarc) != 1:
        return None
    tags: dict[str, str] = {}
    for part in dmarc[0].split(";")[1:]:
        tag, eq, value = part.partition("=")
        if eq:
            tags.setdefault(tag.strip().lower(), value.strip())
    # pct= is ignored: a record with pct=0 still mitigates, because its receivers may
    # still reject some posts, and DMARCbis has dropped pct altogether
    p, note = _policy(tags.get("p")), ""
    if p is None:
        if not tags.get("rua"):
            return None  # invalid (RFC 7489 §6.6.3 step 6)
        p, note = DmarcPolicy.NONE, " (no valid p=, but rua=: read as p=none)"
    # an invalid sp= is ignored, so that p= applies: RFC 7489 would drop the whole record,
    # but mitigating a p=reject domain is the safer mistake
    return _Record(p, _policy(tags.get("sp")), note)


def _policy(value: str | None) -> DmarcPolicy | None:
    lowered = (value or "").lower()
    return DmarcPolicy(lowered) if lowered in PUBLISHED else None


def _is_dmarc(text: str) -> bool:
    """Whether the first tag is `v=DMARC1` (tag names are case-insensitive, the version
    is not)."""
    tag, eq, value = text.split(";", 1)[0].partition("=")
    return bool(eq) and tag.strip().lower() == "v" and value.strip() == "DMARC1"


def _decide(name: str, found_at: str, record: _Record) -> DmarcResult:
    if found_at == name:
        policy = record.p
        reason = f"{name} publishes p={policy}{record.note}"
    elif record.sp is not None:
        policy = record.sp
        reason = f"no DMARC record for {name}; {found_at} publishes sp={policy}"
    else:
        policy = record.p
        reason = f"no DMARC record for {name}; {found_at} publishes p={policy}{record.note}"
    return DmarcResult(name, policy, policy in MITIGATED, reason)


def _why(exc: Exception) -> str:
    """The cause of a failed lookup, short and on one line."""
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "no nameserver gave an answer (SERVFAIL or REFUSED)"
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
