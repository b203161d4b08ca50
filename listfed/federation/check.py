"""What `listfed routes check` finds; nothing here sends or writes.

`check` judges the routing graph against the lists that exist (asked through a callable,
so it stays pure): errors are routes that cannot work, warnings routes that can never
relay, info how each target is reached and which cycles exist. (`routes test` runs a
message through the rules: federation/trial.py.) Nothing here loads the ORM, so that
`routes check` answers as fast as the other commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from listfed.addresses import candidates, split_address
from listfed.config.settings import BridgeConfig, RouteConfig
from listfed.context import NodeSettings
from listfed.db import listrows
from listfed.db.plain import Db, connection
from listfed.errors import InvalidAddress

MAX_CYCLES = 20  # a dense graph has very many; the first few make the point

ListExists = Callable[[str], bool]  # "LIST@DOMAIN" -> is it a list on this node?


class Reach(StrEnum):
    """How a route target is reached."""

    LOCAL = "local"  # a list on this node: handed straight to its pipeline
    MISSING = "missing"  # at a domain of this node, but no such list
    PEER = "peer"  # at a peer's domain: signed with that peer's secret
    FOREIGN = "foreign"  # anywhere else: other software, sent unsigned
    INVALID = "invalid"  # not a mail address


@dataclass
class Report:
    routes: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)


def lists_in(db: Db) -> ListExists:
    """`list_exists` answered by the database behind `db`."""
    conn = connection(db, flush=False)

    def exists(address: str) -> bool:
        try:
            local, domain = split_address(address)
        except InvalidAddress:
            return False
        return listrows.id_of(conn, local.lower(), domain) is not None

    return exists


def reach(node: NodeSettings, target: str, list_exists: ListExists) -> Reach:
    """Classified as the relay stage sends: this node's domains first, then peers."""
    try:
        split_address(target)
    except InvalidAddress:
        return Reach.INVALID
    if node.hosts(target):
        return Reach.LOCAL if list_exists(target) else Reach.MISSING
    return Reach.PEER if node.peer_for(target) is not None else Reach.FOREIGN


def check(node: NodeSettings, list_exists: ListExists) -> Report:
    """Every route of `node` judged; the report says what is wrong and what is merely so."""
    report = Report(routes=len(node.routes))
    edges: dict[str, list[str]] = {}
    for route in node.routes:
        source = list_exists(route.from_)
        if not source:
            report.errors.append(
                f"route {route.name}: the list {route.from_} does not exist here "
                f"(`listfed lists create {route.from_}` makes it)"
            )
        reaches = {t: reach(node, t, list_exists) for t in route.to}
        for target, how in reaches.items():
            _target(node, route, target, how, report)
            if source and how in (Reach.LOCAL, Reach.PEER, Reach.FOREIGN):
                edges.setdefault(route.from_.lower(), []).append(target.lower())
        _relays(node, route, reaches, report)
    report.info.extend(cycles(edges))
    for bridge in node.bridges:
        _bridge(bridge, list_exists, report)
    return report


def _bridge(bridge: BridgeConfig, list_exists: ListExists, report: Report) -> None:
    name = f"bridge {bridge.name}"
    if not list_exists(bridge.list):
        report.errors.append(
            f"{name}: the list {bridge.list} does not exist here "
            f"(`listfed lists create {bridge.list}` makes it)"
        )
    if bridge.address is not None:
        local, _, domain = bridge.address.rpartition("@")
        readings = [r.list_address for r in candidates(local, domain)]
        if any(list_exists(a) for a in readings):
            report.errors.append(
                f"{name}: its address {bridge.address} is also a list's address here; "
                "the bridge takes that mail, the list never sees it"
            )
        how = f"by its address {bridge.address}"
    else:
        how = f"by the mailbox {bridge.imap}, sending as {bridge.identity or '(nobody)'}"
    report.info.append(f"{name}: {bridge.list} <-> {bridge.foreign} {how} ({bridge.direction})")


def _target(
    node: NodeSettings, route: RouteConfig, target: str, how: Reach, report: Report
) -> None:
    where = f"route {route.name} -> {target}"
    if how is Reach.INVALID:
        report.errors.append(f"route {route.name}: the target {target!r} is not a mail address")
    elif how is Reach.MISSING:
        domain = target.rpartition("@")[2].lower()
        report.errors.append(
            f"route {route.name}: {target} is at this node's domain {domain} but is not a list here"
        )
    elif how is Reach.LOCAL:
        report.info.append(f"{where}: a list on this node, handed straight to its pipeline")
    elif how is Reach.PEER:
        peer = node.peer_for(target)
        assert peer is not None
        report.info.append(f"{where}: signed for peer {peer.name} (node {peer.node})")
    else:
        report.info.append(f"{where}: sent unsigned (other software)")


def _relays(
    node: NodeSettings, route: RouteConfig, reaches: Mapping[str, Reach], report: Report
) -> None:
    """Warn about routes whose match never holds and whose threads are never shared."""
    if route.match.get("any") is False:  # all conditions must hold: this one never does
        if not route.follow_thread:
            report.warnings.append(
                f"route {route.name} can never relay anything: any = false never matches"
            )
            return
        report.warnings.append(
            f"route {route.name}: any = false never matches; it relays only threads already shared"
        )
    elif not route.match:
        report.info.append(
            f"route {route.name} has no match: it relays only threads already shared"
        )
    else:
        return
    # A thread is shared once a trusted relay from the target arrives on the from list.
    for target, how in reaches.items():
        if how is Reach.FOREIGN:
            why = f"{target} is not at a peer, so nothing from it arrives as a trusted relay"
        elif how is Reach.LOCAL and not _routed(node, target, route.from_):
            why = f"no route here brings posts from {target} to {route.from_}"
        else:
            continue
        report.warnings.append(
            f"route {route.name} -> {target} can never relay anything ({why}): "
            "no thread is ever shared with it"
        )


def _routed(node: NodeSettings, source: str, target: str) -> bool:
    return any(
        r.from_.casefold() == source.casefold() and target.casefold() in map(str.casefold, r.to)
        for r in node.routes
    )


def cycles(edges: Mapping[str, list[str]]) -> list[str]:
    """Each simple cycle once, starting at the list that comes first in the routes."""
    order: dict[str, int] = {}
    for source, targets in edges.items():
        for address in (source, *targets):
            order.setdefault(address, len(order))
    found: list[list[str]] = []
    for start in edges:
        stack = [[start]]
        while stack and len(found) <= MAX_CYCLES:
            path = stack.pop()
            for nxt in reversed(dict.fromkeys(edges.get(path[-1], []))):
                if nxt == start:
                    found.append([*path, start])
                elif order[nxt] > order[start] and nxt not in path:
                    stack.append([*path, nxt])
    found.sort(key=lambda path: [order[a] for a in path])
    out = [f"cycle {' -> '.join(p)} (safe: the trace stops loops)" for p in found[:MAX_CYCLES]]
    if len(found) > MAX_CYCLES:
        out.append(f"more than {MAX_CYCLES} cycles; the first {MAX_CYCLES} are shown")
    return out
