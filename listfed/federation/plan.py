"""Which routes take a post, to which targets, and why not the others.

Used by the pipeline (act on the hops that go) and by `listfed routes test` (print them
all). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from listfed.archive.stage import thread_of
from listfed.bridges.routing import routes as bridge_routes
from listfed.config.settings import RouteConfig
from listfed.context import NodeSettings
from listfed.db import relays
from listfed.db.plain import Db
from listfed.federation import matching
from listfed.mail import trace
from listfed.post import Post


@dataclass(frozen=True)
class Hop:
    route: RouteConfig
    target: str
    go: bool
    reason: str


def routes_from(node: NodeSettings, address: str) -> list[RouteConfig]:
    """The routes and sending bridges (bridges/outgoing.py) that leave from `address`."""
    every = [*node.routes, *bridge_routes(node)]
    return [r for r in every if r.from_.casefold() == address.casefold()]


def _shared(db: Db, post: Post, route: RouteConfig, target: str) -> bool:
    refs = [r for r in (post.message.in_reply_to, *post.message.references) if r] or [""]
    return relays.shared(db, post.lst.id, target, route.name, post.thread_id, refs)


def plan(db: Db, node: NodeSettings, post: Post, now: float) -> list[Hop]:
    """Every hop of every route from the post's list: which go, and why (the pipeline
    passes its Session, `routes test` a plain connection)."""
    routes = routes_from(node, post.lst.address)
    if not routes:
        return []
    traces = post.message.traces
    if not post.thread_id:
        post.thread_id = thread_of(db, post.lst.id, post, now)
    stop = None
    if not trace.forward_allowed(traces):
        stop = "it arrived with forward=no: this node relays it no further"
    elif len(traces) + 1 > node.hop_limit:
        stop = f"one more hop would pass the hop limit of {node.hop_limit}"
    headers = post.message.head.get_all_decoded
    hops: list[Hop] = []
    chosen: dict[str, str] = {}  # target -> route, within this plan
    for route in routes:
        matched, why = matching.check(route, post.message, headers, [post.lst.prefix])
        for target in route.to:
            key = target.casefold()
            earlier = chosen.get(key) or relays.relayed_by(
                db, post.lst.id, post.message.message_id, target
            )
            if stop is not None:
                hops.append(Hop(route, target, False, stop))
            elif trace.visited(traces, target):
                hops.append(Hop(route, target, False, f"it has already been on {target}"))
            elif earlier is not None:
                hops.append(Hop(route, target, False, f"route {earlier} relays it there"))
            elif matched:
                hops.append(Hop(route, target, True, why))
            elif (route.follow_thread or not route.match) and _shared(db, post, route, target):
                hops.append(Hop(route, target, True, f"its thread is shared with {target}"))
            else:
                hops.append(Hop(route, target, False, why))
            if hops[-1].go:
                chosen[key] = route.name
    return hops
