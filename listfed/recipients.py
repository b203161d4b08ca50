"""The recipients of one SMTP or LMTP transaction: each accepted once, at most a limit.

RFC 5321 §4.5.3.1.8 asks a server to take at least 100 recipients per transaction and
§4.5.3.1.10 lets it answer `452` to the rest, which the client then sends in another
transaction (Postfix's smtpd_recipient_limit, default 1,000). A recipient named twice is
answered `250` both times, as Postfix does, but queued once: refusing the second would
make a client bounce mail that was in fact accepted. Every accepted RCPT, repeats
included, counts toward the limit, so a flood of one address ends like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from listfed.addresses import Recipient, for_log

TOO_MANY = "452 4.5.3 Too many recipients"
SHOWN = 3  # recipients a log line names before "and N more"


@dataclass(frozen=True)
class Target:
    """A distinct recipient: the first address given for it and what it resolved to."""

    address: str
    recipient: Recipient
    list_id: int | None


@dataclass
class Recipients:
    limit: int
    accepted: list[str] = field(default_factory=list)  # every accepted RCPT, in order
    slots: list[int] = field(default_factory=list)  # each accepted RCPT's index in targets
    targets: list[Target] = field(default_factory=list)
    _seen: dict[tuple[Recipient, int | None], int] = field(default_factory=dict)

    def full(self) -> bool:
        return len(self.accepted) >= self.limit

    def add(self, address: str, recipient: Recipient, list_id: int | None) -> None:
        """Accept an RCPT; one that resolves like an earlier one shares its target."""
        key = (recipient, list_id)
        if key not in self._seen:
            self._seen[key] = len(self.targets)
            self.targets.append(Target(address, recipient, list_id))
        self.accepted.append(address)
        self.slots.append(self._seen[key])

    def ids_by_rcpt(self, ids: Sequence[int]) -> list[tuple[str, int]]:
        """Each accepted RCPT with the queue id of its target (`ids`: one per target)."""
        return [(a, ids[slot]) for a, slot in zip(self.accepted, self.slots, strict=True)]


def summary(addresses: Sequence[str], shown: int = SHOWN) -> str:
    """``a@x, b@x, c@x and 297 more``: a log line's length does not grow with the count."""
    named = ", ".join(for_log(a)[:200] for a in addresses[:shown])
    rest = len(addresses) - shown
    return f"{named} and {rest} more" if rest > 0 else named


def span(ids: Sequence[int]) -> str:
    """Queue ids for a log line: ``12``, ``12,13``, or ``12..311 (300 items)``."""
    if len(ids) <= 2:
        return ",".join(map(str, ids))
    return f"{ids[0]}..{ids[-1]} ({len(ids)} items)"
