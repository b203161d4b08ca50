"""Delivery outcomes as the node counts them (db/stats.py): per recipient domain,
accepted, deferred or refused, with the reply code that said so, so that `listfed
report` can tell an admin that one provider refuses the list's mail, and why."""

from __future__ import annotations

import re
from collections import Counter

from listfed.db.stats import Key, day_of
from listfed.delivery.transport import SendResult

_REPLY = re.compile(r"\s*([245][0-9][0-9])(?:[ -]+([245]\.[0-9]{1,3}\.[0-9]{1,3}))?")
MAX_DOMAIN = 253


def code_of(error: str) -> str:
    """The enhanced status code of a reply (`5.7.26`), else its reply code (`550`), else
    "none" (the connection failed before any reply)."""
    found = _REPLY.match(error[:40])
    if found is None:
        return "none"
    return found.group(2) or found.group(1)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()[:MAX_DOMAIN] or "(none)"


def tally(result: SendResult, when: float) -> Counter[tuple[int, Key]]:
    day = day_of(when)
    counts: Counter[tuple[int, Key]] = Counter()
    for address in result.accepted:
        counts[(day, ("delivery", _domain(address), "accepted", "250"))] += 1
    for outcome, failed in (("deferred", result.temporary), ("refused", result.permanent)):
        for address, error in failed.items():
            counts[(day, ("delivery", _domain(address), outcome, code_of(error)))] += 1
    return counts
