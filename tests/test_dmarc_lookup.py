"""DMARC policy lookup over real DNS queries to a stub server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.nameserver
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listfed.dmarc.lookup import DmarcLookup
from listfed.dns import make_resolver, txt_lookup
from tests.dnsstub import StubDns

TIMEOUT = 1.5  # the stub answers at once; a loaded machine must not turn that into a timeout


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def resolver(dns_stub: StubDns) -> dns.asyncresolver.Resolver:
    return make_resolver((dns_stub.address,), timeout=TIMEOUT)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lookup(resolver: dns.asyncresolver.Resolver, clock: Clock) -> DmarcLookup:
    return DmarcLookup(resolver, clock)


@pytest.mark.parametrize("policy", ["reject", "quarantine", "none"])
async def test_the_published_policy(dns_stub: StubDns, lookup: DmarcLookup, policy: str) -> None:
    dns_stub.txt("_dmarc.example.org", f"v=DMARC1; p={policy}; rua=mailto:d@example.org")
    result = await lookup.check("example.org")
    assert (result.domain, result.policy) == ("example.org", policy)
    assert result.mitigate is (policy != "none")
    assert result.reason == f"example.org publishes p={policy}"


async def test_no_record_is_absent_and_the_walk_stops_before_the_tld(
    dns_stub: StubDns, lookup: DmarcLookup
) -> None:
    result = await lookup.check("mail.example.org")
    assert (result.policy, result.mitigate) == ("absent", False)
    assert result.reason == "no DMARC record for mail.example.org"
    assert set(dns_stub.queries) == {"_dmarc.mail.example.org", "_dmarc.example.org"}


async def test_a_timeout_mitigates_after_the_resolver_timeout(
    dns_stub: StubDns, lookup: DmarcLookup
) -> None:
    dns_stub.timeout("_dmarc.example.org")
    started = time.monotonic()
    result = await lookup.check("example.org")
    elapsed = time.monotonic() - started
    assert (result.policy, result.mitigate) == ("unknown", True)
    assert result.reason == "DMARC lookup for example.org failed: timeout"
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT * 3


async def test_servfail_mitigates(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.servfail("_dmarc.example.org")
    result = await lookup.check("example.org")
    assert (result.policy, result.mitigate) == ("unknown", True)
    assert "SERVFAIL" in result.reason


async def test_a_failure_up_the_walk_mitigates(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.servfail("_dmarc.example.org")
    result = await lookup.check("news.example.org")
    assert (result.policy, result.mitigate) == ("unknown", True)


async def test_sp_applies_to_subdomains_and_p_to_the_domain(
    dns_stub: StubDns, lookup: DmarcLookup
) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=none; sp=reject")
    exact = await lookup.check("example.org")
    sub = await lookup.check("a.news.example.org")
    assert (exact.policy, exact.mitigate) == ("none", False)
    assert (sub.domain, sub.policy, sub.mitigate) == ("a.news.example.org", "reject", True)
    assert sub.reason == "no DMARC record for a.news.example.org; example.org publishes sp=reject"


async def test_without_sp_a_parent_p_applies(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=quarantine; sp=bogus")
    result = await lookup.check("news.example.org")
    assert (result.policy, result.mitigate) == ("quarantine", True)


async def test_the_nearest_record_decides(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.txt("_dmarc.news.example.org", "v=DMARC1; p=none")
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    result = await lookup.check("a.news.example.org")
    assert result.policy == "none"
    assert "_dmarc.example.org" not in dns_stub.queries


async def test_a_long_name_jumps_to_seven_labels(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    name = "a.b.c.d.e.f.g.h.i.example"
    result = await lookup.check(name)
    assert result.policy == "absent"
    labels = name.split(".")
    expected = [name] + [".".join(labels[-keep:]) for keep in range(7, 1, -1)]
    assert dns_stub.queries == {f"_dmarc.{n}": 1 for n in expected}


@pytest.mark.parametrize(
    ("records", "policy"),
    [
        (["v=DMARC1; p=reject", "v=DMARC1; p=none"], "absent"),  # two records: none at all
        (["v=DMARC1; p=reject", "v=DMARC1"], "absent"),  # even when one is invalid
        (["v=spf1 -all", "v=DMARC1; p=reject"], "reject"),
        (["p=reject; v=DMARC1"], "absent"),  # v= must come first
        (["v=DMARC1p=reject"], "absent"),
        (["v=dmarc1; p=reject"], "absent"),  # the version is case-sensitive
        (["v=DMARC2; p=reject"], "absent"),
        ([" V = DMARC1 ;P = Reject; "], "reject"),  # tag names and values are not
        ([["v=DMARC1; ", "p=quarantine"]], "quarantine"),  # one record of two strings
        (["v=DMARC1; p=reject; pct=0"], "reject"),  # pct is ignored
        (["v=DMARC1; rua=mailto:d@example.org"], "none"),  # no p, but rua
        (["v=DMARC1; p=bogus; rua=mailto:d@example.org"], "none"),
        (["v=DMARC1; sp=reject"], "absent"),  # no p, no rua: invalid
        (["v=DMARC1; p=bogus"], "absent"),
        (["v=DMARC1"], "absent"),
    ],
)
async def test_record_validity(
    dns_stub: StubDns, lookup: DmarcLookup, records: list[str | list[str]], policy: str
) -> None:
    dns_stub.txt("_dmarc.example.org", *records)
    result = await lookup.check("example.org")
    assert result.policy == policy
    assert result.mitigate is (policy in ("quarantine", "reject"))


async def test_an_invalid_record_walks_on_to_the_parent(
    dns_stub: StubDns, lookup: DmarcLookup
) -> None:
    dns_stub.txt("_dmarc.news.example.org", "v=DMARC1; p=reject", "v=DMARC1; p=none")
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=quarantine")
    result = await lookup.check("news.example.org")
    assert result.policy == "quarantine"


async def test_p_none_read_from_rua_says_so(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; rua=mailto:d@example.org")
    result = await lookup.check("example.org")
    assert "read as p=none" in result.reason


async def test_case_does_not_matter(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    first = await lookup.check("Example.ORG")
    second = await lookup.check("example.org.")
    assert first == second
    assert first.domain == "example.org"
    assert dns_stub.queries["_dmarc.example.org"] == 1


async def test_a_result_is_cached_for_its_ttl(
    dns_stub: StubDns, lookup: DmarcLookup, clock: Clock
) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=reject", ttl=100)
    await lookup.check("example.org")
    clock.now += 99.9
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 1
    clock.now += 0.1
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 2


async def test_the_ttl_is_bounded(
    dns_stub: StubDns, resolver: dns.asyncresolver.Resolver, clock: Clock
) -> None:
    lookup = DmarcLookup(resolver, clock, max_ttl=50)
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=reject", ttl=100000)
    await lookup.check("example.org")
    clock.now += 50
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 2


async def test_absence_is_cached_for_absent_ttl(
    dns_stub: StubDns, resolver: dns.asyncresolver.Resolver, clock: Clock
) -> None:
    lookup = DmarcLookup(resolver, clock, absent_ttl=30)
    await lookup.check("example.org")
    clock.now += 29
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 1
    clock.now += 1
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 2


async def test_a_failure_is_cached_only_for_failure_ttl(
    dns_stub: StubDns, lookup: DmarcLookup, clock: Clock
) -> None:
    dns_stub.servfail("_dmarc.example.org")
    await lookup.check("example.org")
    clock.now += 59
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 1
    clock.now += 1
    await lookup.check("example.org")
    assert dns_stub.queries["_dmarc.example.org"] == 2


async def test_the_cache_drops_the_oldest_entry(
    dns_stub: StubDns, resolver: dns.asyncresolver.Resolver, clock: Clock
) -> None:
    lookup = DmarcLookup(resolver, clock, max_entries=2)
    for name in ("a.example", "b.example", "c.example", "c.example", "b.example"):
        await lookup.check(name)
    assert sum(dns_stub.queries.values()) == 3
    await lookup.check("a.example")
    assert dns_stub.queries["_dmarc.a.example"] == 2


async def test_concurrent_checks_share_one_walk(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    results = await asyncio.gather(*(lookup.check("news.example.org") for _ in range(5)))
    assert {r.policy for r in results} == {"reject"}
    assert dns_stub.queries == {"_dmarc.news.example.org": 1, "_dmarc.example.org": 1}


async def test_a_cancelled_check_does_not_cancel_the_others(
    dns_stub: StubDns, lookup: DmarcLookup
) -> None:
    dns_stub.timeout("_dmarc.example.org")
    first = asyncio.create_task(lookup.check("example.org"))
    second = asyncio.create_task(lookup.check("example.org"))
    await asyncio.sleep(0)  # both are now waiting for the one walk
    first.cancel()
    result = await second
    assert first.cancelled()
    assert result.policy == "unknown"
    assert dns_stub.queries["_dmarc.example.org"] == 1


async def test_an_unexpected_error_is_not_cached(
    dns_stub: StubDns,
    resolver: dns.asyncresolver.Resolver,
    lookup: DmarcLookup,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dns_stub.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    real = resolver.resolve
    calls = 0

    async def broken_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug")
        return await real(*args, **kwargs)

    monkeypatch.setattr(resolver, "resolve", broken_once)
    outcomes = await asyncio.gather(
        lookup.check("example.org"), lookup.check("example.org"), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError]
    result = await lookup.check("example.org")
    assert result.policy == "reject"
    assert not [r for r in caplog.records if r.name == "asyncio"]  # nothing left unhandled


INVALID_DOMAINS = [
    "",
    ".",
    "a..b",
    "a" * 64 + ".example",
    "\ud800.example",  # cannot be encoded
    "exa mple.org",
    "a@b.example",
    ".".join(["a" * 60] * 5),  # 304 characters
]


@pytest.mark.parametrize("domain", INVALID_DOMAINS)
async def test_an_invalid_domain_mitigates_without_a_query(
    dns_stub: StubDns, lookup: DmarcLookup, domain: str
) -> None:
    result = await lookup.check(domain)
    assert (result.policy, result.mitigate) == ("unknown", True)
    assert "not a valid domain" in result.reason
    assert not dns_stub.queries


async def test_an_idn_domain_is_queried_in_ascii(dns_stub: StubDns, lookup: DmarcLookup) -> None:
    dns_stub.txt("_dmarc.xn--bcher-kva.example", "v=DMARC1; p=reject")
    result = await lookup.check("Bücher.example")
    assert (result.domain, result.policy) == ("xn--bcher-kva.example", "reject")
    assert list(dns_stub.queries) == ["_dmarc.xn--bcher-kva.example"]


@settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    domain=st.one_of(st.text(max_size=30), st.from_regex(r"[a-zA-Z0-9.-]{0,30}", fullmatch=True))
)
async def test_check_never_raises(dns_stub: StubDns, domain: str) -> None:
    lookup = DmarcLookup(make_resolver((dns_stub.address,), timeout=TIMEOUT))
    result = await lookup.check(domain)
    assert result.policy in ("absent", "unknown")
    assert result.mitigate is (result.policy == "unknown")


def test_txt_lookup_joins_a_long_record(dns_stub: StubDns) -> None:
    key = "v=DKIM1; k=rsa; p=" + "A" * 700  # over 255 octets and over a UDP answer
    dns_stub.txt("sel._domainkey.example.org", key)
    lookup = txt_lookup((dns_stub.address,), timeout=TIMEOUT)
    assert lookup(b"sel._domainkey.example.org.", timeout=5) == key.encode()
    assert lookup("sel._domainkey.example.org") == key.encode()


def test_txt_lookup_returns_none_when_there_is_nothing(dns_stub: StubDns) -> None:
    dns_stub.txt("a.b.example.org", "x")
    lookup = txt_lookup((dns_stub.address,), timeout=TIMEOUT)
    assert lookup(b"nothing.example.org.", timeout=5) is None
    assert lookup(b"b.example.org.", timeout=5) is None  # exists, has no TXT
    assert lookup(b"\xff.example.org.", timeout=5) is None


@pytest.mark.parametrize(("asked", "waited"), [(0.2, 0.2), (5, 1.0)])
def test_txt_lookup_waits_for_the_shorter_limit(
    dns_stub: StubDns, asked: float, waited: float
) -> None:
    dns_stub.timeout("slow.example.org")
    lookup = txt_lookup((dns_stub.address,), timeout=1.0)
    started = time.monotonic()
    assert lookup(b"slow.example.org.", timeout=asked) is None
    assert waited * 0.8 <= time.monotonic() - started < waited + 0.4


def test_nameservers_take_their_ports() -> None:
    resolver = make_resolver(("127.0.0.1:5300", "[::1]:5353", "::1", "192.0.2.1"), timeout=3)
    servers = [(ns.address, ns.port) for ns in resolver.nameservers]  # type: ignore[union-attr]
    assert servers == [("127.0.0.1", 5300), ("::1", 5353), ("::1", 53), ("192.0.2.1", 53)]
    assert all(isinstance(ns, dns.nameserver.Do53Nameserver) for ns in resolver.nameservers)
    assert (resolver.lifetime, resolver.timeout) == (3, 0.75)
    assert resolver.retry_servfail is False


@pytest.mark.parametrize("content", [None, "", "# nothing here\n", "nameserver nonsense\n"])
def test_without_a_usable_resolv_conf_127_0_0_1_is_asked(
    tmp_path: Path, content: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    conf = tmp_path / "resolv.conf"
    if content is not None:
        conf.write_text(content)
    resolver = make_resolver((), resolv_conf=conf)
    assert list(resolver.nameservers) == ["127.0.0.1"]
    assert "unusable" in caplog.text


def test_the_system_resolver_reads_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 192.0.2.53\noptions timeout:30\n")
    resolver = make_resolver((), timeout=2, resolv_conf=conf)
    assert list(resolver.nameservers) == ["192.0.2.53"]
    assert (resolver.lifetime, resolver.timeout) == (2, 2)
