"""`listfed report`: how the node's mail fares at each recipient domain (SPEC §11).

From the daily counts the delivery worker keeps (db/stats.py, 35 days): per domain, the
copies accepted, deferred and refused, and the commonest reply codes that were not a
plain yes, each with what it usually means; and the members whose delivery bounces
disabled. Read only; plain sqlite3.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field

from listfed.db.stats import day_of

# What the replies that list admins meet most often mean (RFC 3463 and the providers'
# published codes). The meaning is a hint: the reply text in the log says more.
MEANINGS = {
    "5.7.26": "DMARC or SPF/DKIM authentication failed (Gmail: unauthenticated mail)",
    "5.7.515": "Microsoft: the sending domain lacks SPF, DKIM or DMARC alignment",
    "5.7.509": "Microsoft: DMARC policy of the From domain rejects the message",
    "5.7.1": "refused by the receiver's policy (spam filter, block list, or relaying)",
    "5.7.25": "the sending IP address has no reverse DNS (PTR) record",
    "5.7.27": "the sender domain's SPF does not allow this server",
    "4.7.28": "Gmail: rate limited (unusually many messages from this IP); retried",
    "4.7.0": "temporarily deferred by policy or rate limit (Yahoo TSS04, Gmail); retried",
    "421": "the server is busy or rate-limits this sender; retried",
    "5.1.1": "no such mailbox (the member's address is gone)",
    "5.1.10": "Microsoft: no such recipient (null MX or unknown user)",
    "5.2.1": "the mailbox is disabled",
    "5.2.2": "the mailbox is full",
    "4.2.2": "the mailbox is full; retried",
    "5.4.1": "Microsoft: recipient address rejected (no such user at that domain)",
    "5.4.4": "the domain does not exist or has no mail server",
    "5.3.4": "the message is too big for the receiver",
    "4.4.1": "no answer from the receiving server; retried",
    "none": "no reply at all (the connection failed)",
}
COMMON_CODES = 3  # per domain


@dataclass
class DomainReport:
    domain: str
    accepted: int = 0
    deferred: int = 0
    refused: int = 0
    codes: Counter[str] = field(default_factory=Counter)  # not-accepted replies

    def as_json(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "accepted": self.accepted,
            "deferred": self.deferred,
            "refused": self.refused,
            "codes": [
                {"code": c, "count": n, "meaning": meaning(c)}
                for c, n in self.codes.most_common(COMMON_CODES)
            ],
        }


@dataclass(frozen=True)
class Disabled:
    list_address: str
    address: str
    last_failure: str


def meaning(code: str) -> str:
    if code in MEANINGS:
        return MEANINGS[code]
    basic = {"4": "a temporary failure; retried", "5": "a permanent failure"}
    return basic.get(code[:1], "")


def domains(conn: sqlite3.Connection, now: float, since: float) -> list[DomainReport]:
    """Each recipient domain with traffic in the last `since` seconds, busiest first."""
    first = day_of(now - since)
    found: dict[str, DomainReport] = {}
    rows = conn.execute(
        "SELECT a, b, c, SUM(count) FROM stat_day WHERE name = 'delivery' AND day >= ? "
        "GROUP BY a, b, c",
        (first,),
    )
    for domain, outcome, code, n in rows:
        report = found.setdefault(str(domain), DomainReport(str(domain)))
        if outcome == "accepted":
            report.accepted += int(n)
            continue
        if outcome == "deferred":
            report.deferred += int(n)
        else:
            report.refused += int(n)
        report.codes[str(code)] += int(n)
    return sorted(found.values(), key=lambda r: (-(r.accepted + r.deferred + r.refused), r.domain))


def disabled(conn: sqlite3.Connection) -> list[Disabled]:
    """Members whose delivery bounces disabled, with the last failure seen."""
    rows = conn.execute(
        "SELECT l.local || '@' || l.domain, m.display_address, m.last_failure FROM member m "
        "JOIN mlist l ON l.id = m.list_id WHERE m.delivery_disabled AND m.disabled_by = "
        "'bounces' ORDER BY 1, 2"
    )
    return [Disabled(str(a), str(b), str(c)) for a, b, c in rows]
