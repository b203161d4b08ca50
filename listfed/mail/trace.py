"""The `X-Listfed-Trace` header: one per hop, oldest first (SPEC §9).

``X-Listfed-Trace: NODE LIST@DOMAIN`` with an optional ``; forward=no``. Entries are
compared exactly, case-folded. A value that does not parse still counts as a hop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from listfed.mail.message import TRACE_HEADER

__all__ = ["TRACE_HEADER", "TraceEntry"]
_BLANKS = re.compile(r"\s*")
_WORD = re.compile(r"\S*")
MAX_VALUE = 2_000  # characters of a trace value read; a longer one counts as a hop, unread
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
    """One header value; None when it is not ``NODE LIST@DOMAIN[; params]`` (or is
    longer than any honest one: nothing a stranger sends is read without a bound)."""
    split = _split(value) if len(value) <= MAX_VALUE else None
    if split is None:
        return None
    node, address, params = split
    forward = True
    for param in params.split(";") if params is not None else ():
        if not param.strip():
            continue
        pm = _PARAM.fullmatch(param)
        if pm is None:
            return None
        if pm.group(1).lower() == "forward":
            forward = pm.group(2).lower() not in ("no", "false", "0")
    return TraceEntry(node, address, forward)


def _split(value: str) -> tuple[str, str, str | None] | None:
    """NODE, LIST and what follows the ';' (None: no ';'), in one pass over the value.

    The reading of the pattern ``\\s*(\\S+)\\s+(\\S+@\\S+?)\\s*(?:;(.*))?``, without the
    backtracking that made a regex quadratic in the length of a stranger's header: LIST
    is the shortest ``X@Y`` in the second word, taken at the word's last workable '@',
    that ends at a ';' or at the end of the word (then only blanks or ';' may follow)."""
    node_start = _skip_blanks(value, 0)
    node_end = _word_end(value, node_start)
    list_start = _skip_blanks(value, node_end)
    if node_end == node_start or list_start == node_end:
        return None
    word_end = _word_end(value, list_start)
    after = _skip_blanks(value, word_end)
    tail_ok = after == len(value) or value[after] == ";"
    rest = value[after + 1 :] if after < len(value) else None
    node = value[node_start:node_end]
    at = value.rfind("@", list_start + 1, max(list_start + 1, word_end - 1))
    if at >= 0 and not tail_ok:  # LIST must end at a ';' inside the word: the last '@' before one
        last_semi = value.rfind(";", list_start, word_end)
        at = value.rfind("@", list_start + 1, max(list_start + 1, last_semi - 1))
    if at < 0:
        return None
    semi = value.find(";", at + 2, word_end)
    if semi >= 0:
        return node, value[list_start:semi], value[semi + 1 :]
    return node, value[list_start:word_end], rest  # tail_ok: only blanks or ';' follow


def _skip_blanks(value: str, pos: int) -> int:
    return _BLANKS.match(value, pos).end()  # type: ignore[union-attr]  # \s* always matches


def _word_end(value: str, pos: int) -> int:
    return _WORD.match(value, pos).end()  # type: ignore[union-attr]  # \S* always matches


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
