"""What each hosted domain publishes in DNS, compared with what `doctor` says it needs
(SPEC §11): MX, one SPF record, the DKIM key of the configured selector, one DMARC
record. Asked through the configured resolver (`[dns] nameservers`); each problem is
one line that names the record to publish."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from listfed.ops.doctor import Check, Record

Ask = Callable[[str, str], list[str]]  # (name, "TXT" or "MX") -> the records' texts


class Unanswered(Exception):
    """The resolver gave no usable answer (a timeout, SERVFAIL): not the same as none."""


def asker(resolver: dns.resolver.Resolver) -> Ask:
    def ask(name: str, kind: str) -> list[str]:
        try:
            answer = resolver.resolve(
                dns.name.from_text(name), kind, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.DNSException, OSError) as exc:
            raise Unanswered(f"{type(exc).__name__}") from None
        found = []
        for rdata in answer.rrset or []:
            if rdata.rdtype == dns.rdatatype.TXT:
                found.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            else:
                found.append(rdata.to_text())
        return found

    return ask


def _zone(record: Record) -> str:
    return f'{record.name} IN {record.type} "{record.value}"'


def _key(record: str) -> str:
    """The p= of a DKIM record, blanks removed."""
    found = re.search(r"(?:^|;)\s*p=([^;]*)", record)
    return re.sub(r"\s+", "", found.group(1)) if found else ""


@dataclass(frozen=True)
class Needs:
    domain: str
    spf: Record
    dmarc: Record
    dkim: tuple[Record, ...]  # the signing key's, then any retiring ones'


def needs(records: list[Record], domain: str) -> Needs:
    mine = [r for r in records if r.domain == domain]
    by = {r.purpose: r for r in mine}
    keys = tuple(r for r in mine if r.purpose in ("dkim", "dkim-retiring"))
    return Needs(domain, by["spf"], by["dmarc"], keys)


def compare(ask: Ask, need: Needs) -> list[Check]:
    """What `need.domain` publishes against what it needs: one Check per record kind."""
    domain = need.domain
    try:
        return [
            _mx(ask, domain),
            _one(ask, f"{domain}.", "v=spf1", "SPF", need.spf),
            *(_dkim(ask, record) for record in need.dkim),
            _one(ask, f"_dmarc.{domain}.", "v=DMARC1", "DMARC", need.dmarc),
        ]
    except Unanswered as exc:
        return [Check(False, f"{domain}: DNS gave no answer ({exc}): check [dns] nameservers")]


def _mx(ask: Ask, domain: str) -> Check:
    found = ask(f"{domain}.", "MX")
    if not found:
        return Check(
            False,
            f"{domain}: no MX record, so mail to its lists may go nowhere: publish "
            f"{domain}. IN MX 10 <the host that takes its mail>.",
        )
    return Check(True, f"{domain}: MX {', '.join(sorted(found))}")


def _one(ask: Ask, name: str, tag: str, what: str, record: Record) -> Check:
    found = [t for t in ask(name, "TXT") if t.lower().startswith(tag.lower())]
    domain = record.domain
    if not found:
        return Check(False, f"{domain}: no {what} record: publish {_zone(record)}")
    if len(found) > 1:
        return Check(
            False,
            f"{domain}: {len(found)} {what} records, which receivers treat as none: "
            f"keep one (e.g. {_zone(record)})",
        )
    return Check(True, f"{domain}: {what} {found[0]}")


def _dkim(ask: Ask, record: Record) -> Check:
    found = [t for t in ask(record.name, "TXT") if "p=" in t]
    domain = record.domain
    # a retiring key is still needed: mail signed with it may be on its way
    retiring = record.purpose == "dkim-retiring"
    key = "retiring DKIM key" if retiring else "DKIM key"
    signed = "mail signed with it before the switch" if retiring else "its signatures"
    if not found:
        return Check(False, f"{domain}: no {key} at {record.name}: publish {_zone(record)}")
    if _key(record.value) not in {_key(t) for t in found}:
        return Check(
            False,
            f"{domain}: the {key} at {record.name} is not this node's, so {signed} "
            f"fail: publish {_zone(record)}",
        )
    return Check(True, f"{domain}: the {key} at {record.name} is this node's")
