"""Each bridge that sends is a route from its list to the foreign list (`as_route`), so
the planner (federation/plan.py) decides with the same reasons as for routes: the
bridge's `match` (default: every post), the trace (a post that came from the foreign
list, or went there already, never goes again), the hop limit and forward=no. What goes
out, and how, is bridges/outgoing.py's.

Apart from it so that the planner, and `routes test` with it, load no writer.
"""

from __future__ import annotations

from types import MappingProxyType

from listfed.config.settings import BridgeConfig, RouteConfig
from listfed.context import NodeSettings
from listfed.post import Origin, OriginKind

_EVERYTHING = MappingProxyType({"any": True})


def as_route(bridge: BridgeConfig) -> RouteConfig:
    return RouteConfig(
        name=str(Origin.bridge(bridge.name)),
        from_=bridge.list,
        to=(bridge.foreign,),
        match=bridge.match or _EVERYTHING,
    )


def routes(node: NodeSettings) -> list[RouteConfig]:
    return [as_route(b) for b in node.bridges if b.sends_out]


def bridge_of(node: NodeSettings, route: RouteConfig) -> BridgeConfig | None:
    """The bridge a route of `routes()` stands for; None for a [[route]]."""
    origin = Origin.stored(route.name)
    return node.bridge(origin.name) if origin.kind is OriginKind.BRIDGE else None
