"""Property: over random route graphs of up to 6 lists on 3 nodes, cycles included, a
post reaches every list reachable by matching routes, and each list at most once."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from listfed.listinfo import Policy
from tests.conftest import RecordingSmarthost, post
from tests.federation import Fed, domain_of, federation

NODES = ("a", "b", "c")


@dataclass(frozen=True)
class Graph:
    homes: tuple[str, ...]  # the node of list i
    edges: tuple[tuple[int, int, bool], ...]  # (from, to, needs the [x] tag)
    origin: int
    tagged: bool


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    count = draw(st.integers(2, 6))
    homes = tuple(draw(st.sampled_from(NODES)) for _ in range(count))
    pairs = [(i, j) for i in range(count) for j in range(count) if i != j]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    edges = tuple((i, j, draw(st.booleans())) for i, j in chosen)
    return Graph(homes, edges, draw(st.integers(0, count - 1)), draw(st.booleans()))


def expected(graph: Graph) -> set[int]:
    seen, todo = {graph.origin}, deque([graph.origin])
    while todo:
        here = todo.popleft()
        for i, j, needs_tag in graph.edges:
            if i == here and (graph.tagged or not needs_tag) and j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


async def run_example(fed: Fed, graph: Graph, n: int) -> None:
    address = [f"e{n}l{i}@{domain_of(home)}" for i, home in enumerate(graph.homes)]
    for i, a in enumerate(address):
        fed.make_list(a, Policy.MEMBERS, [f"e{n}l{i}@members.example"])
    for node in NODES:
        routes = [
            {
                "name": f"r{k}",
                "from": address[i],
                "to": [address[j]],
                "match": {"subject_tag": "x"} if needs_tag else {"any": True},
            }
            for k, (i, j, needs_tag) in enumerate(graph.edges)
            if graph.homes[i] == node
        ]
        fed.set_routes(node, *routes)
    mid = f"<p{n}@members.example>"
    subject = "[x] news" if graph.tagged else "news"
    origin = address[graph.origin]
    sender = f"e{n}l{graph.origin}@members.example"
    raw = post(subject, to=origin, sender=sender, message_id=mid)
    await fed[graph.homes[graph.origin]].send(raw, origin, mail_from=sender)
    await fed.idle()
    counts = {
        i: sum(
            1
            for rcpt, m in fed.smarthost.deliveries()
            if rcpt == f"e{n}l{i}@members.example" and m.message["Message-ID"] == mid
        )
        for i in range(len(address))
    }
    assert {i for i, c in counts.items() if c} == expected(graph), counts
    assert max(counts.values()) == 1, counts


def test_any_route_graph_delivers_once_to_every_reachable_list(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    host = RecordingSmarthost()

    async def open_all() -> tuple[object, asyncio.Server]:
        server = await loop.create_server(lambda: SMTP(host), "127.0.0.1", 0)
        host.port = server.sockets[0].getsockname()[1]
        context = federation(tmp_path, host, *NODES)
        return context, server

    context, server = loop.run_until_complete(open_all())
    fed = loop.run_until_complete(context.__aenter__())  # type: ignore[attr-defined]
    counter = itertools.count()

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(graph=graphs())
    # a diamond across the three nodes, and a cycle through all of them
    @example(
        Graph(
            ("a", "b", "c", "a"),
            ((0, 1, False), (0, 2, False), (1, 3, False), (2, 3, True)),
            0,
            True,
        )
    )
    @example(Graph(("a", "b", "c"), ((0, 1, False), (1, 2, False), (2, 0, False)), 1, False))
    def check(graph: Graph) -> None:
        loop.run_until_complete(run_example(fed, graph, next(counter)))

    try:
        check()
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))  # type: ignore[attr-defined]
        server.close()
        loop.close()
