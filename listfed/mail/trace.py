"""The `X-Listfed-Trace` header: one per hop, oldest first (SPEC §9).

``X-Listfed-Trace: NODE LIST@DOMAIN`` with an optional ``; forward=no``. Entries are
compared exactly, case-folded. A value that does not parse still counts as a hop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from listfed.mail.message import TRACE_HEADER

__all__ = ["TRACE_HEADER", "TraceEntry"]
_ENTRY = re.compile(r"\s*(\S+)\s+(\S+@\S+?)\s*(?:;(.*))?", re.DOTALL)
_PARAM = re.compile(r"\s*([A-Za-z-]+)\s*=\s*([^;\s]*)\s*")


@dataclass(frozen=True)
class TraceEntry:
    node: str
    list: str  # the list address the post left from
    forward: bool = True

    def format(self) -> str:
        value = f"{self.node} {self.list}"
        return value if self.forward else f"{value}; forward=no"

    def key(self) -> str:
        """What identifies the hop: node and list, case-folded."""
        return f"{self.node} {self.list}".casefold()


def normalise(value: str) -> str:
    """A header value as compared and signed: unfolded, runs of whitespace made one space."""
    return " ".join(value.split())


def parse_entry(value: str) -> TraceEntry | None:
    """One header value; None when it is not ``NODE LIST@DOMAIN[; params]``."""
    match = _ENTRY.fullmatch(value)
    if match is None:
        return None
    forward = True
    for param in (match.group(3) or "").split(";"):
        if not param.strip():
            continue
        pm = _PARAM.fullmatch(param)
        if pm is None:
            return None
        if pm.group(1).lower() == "forward":
            forward = pm.group(2).lower() not in ("no", "false", "0")
    return TraceEntry(match.group(1), match.group(2), forward)


def names(values: tuple[str, ...], node: str, address: str) -> bool:
    """Does any trace entry name this node's list?"""
    mine = f"{node} {address}".casefold()
    return any(e is not None and e.key() == mine for e in map(parse_entry, values))


def visited(values: tuple[str, ...], address: str) -> bool:
    """Has the post already left from (or passed through) the list `address`?"""
    target = address.casefold()
    return any(e is not None and e.list.casefold() == target for e in map(parse_entry, values))


def forward_allowed(values: tuple[str, ...]) -> bool:
    """False when a hop said ``forward=no``: this node relays the post no further."""
    return all(e is None or e.forward for e in map(parse_entry, values))


def last_hop(values: tuple[str, ...]) -> TraceEntry | None:
    return parse_entry(values[-1]) if values else None
