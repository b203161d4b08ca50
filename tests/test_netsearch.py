"""A national search (issue 23): `archive search --network` and the web face's "whole
network" ask every peer with a web face for its public results (GET /search.json),
merge them by rank then date, and answer within the deadline whatever the peers do.

Three real nodes (`listfed serve`, each with its web face on a loopback port), real HTTP
between them; the misbehaving peers are small loopback servers of this file's own.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from listfed.archive.network import BadAnswer, NetHit, merge, read_answer
from listfed.cli.app import app as cli
from listfed.config.settings import PeerConfig
from listfed.ops.netsearch import Network, post_path
from listfed.web.app import build
from tests.dnsstub import quiet
from tests.test_archive_cli import mbox_bytes, message
from tests.test_restart import free_port
from tests.test_web_serve import serving, wait_for

SHORTS = ("philly", "nyc", "atl")


def domain(short: str) -> str:
    return f"lists.{short}.example"


def run(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    return result


@dataclass
class Node:
    short: str
    base: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.base / "listfed.toml"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.base / "var" / "listfed.db"


def config_text(node: Node, peers: dict[str, str], deadline: str = "3s", rate: int = 30) -> str:
    """A node's config; `peers`: short name -> web face URL."""
    text = (
        f'[node]\nname = "{domain(node.short)}"\ndomains = ["{domain(node.short)}"]\n'
        f'data_dir = "var"\n'
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[dns]\nnameservers = ["{quiet()}"]\n'
        f'[web]\nlisten = "127.0.0.1:{node.port}"\nnetwork_deadline = "{deadline}"\n'
        f"search_rate = {rate}\n"
    )
    for short, url in peers.items():
        node_name = domain(short) if short in SHORTS else f"{short}.example"
        text += f'[[peer]]\nname = "{short}"\nnode = "{node_name}"\ntrust = "dkim"\nweb = "{url}"\n'
    return text


def fill(node: Node) -> None:
    """Three lists: coc (public), inner (members), hidden (private), each with posts that
    mention the strike; coc's name the node too."""
    d = domain(node.short)
    assert run(node.config, "init").exit_code == 0
    posts = {
        "coc": [
            message(
                f"strike1@{d}",
                f"Strike vote in {node.short}",
                f"The {node.short} strike vote is on.\n",
                sender=f"Ann {node.short.title()} <ann@{d}>",
                date="Mon, 04 Mar 2024 10:00:00 +0000",
            ),
            message(
                f"strike2@{d}",
                "Picket rota",
                "Strike pickets need people on Tuesday.\n",
                sender=f"bob@{d}",
                date=f"Tue, 0{SHORTS.index(node.short) + 5} Mar 2024 10:00:00 +0000",
            ),
        ],
        "inner": [message(f"inner@{d}", "Strike money", "The strike fund is secret.\n")],
        "hidden": [message(f"hidden@{d}", "Strike lawyer", "The strike lawyer is hidden.\n")],
    }
    for local, messages in posts.items():
        address = f"{local}@{d}"
        assert run(node.config, "lists", "create", address).exit_code == 0
        mbox = node.base / f"{local}.mbox"
        mbox.write_bytes(mbox_bytes(messages))
        assert run(node.config, "archive", "import", address, str(mbox)).exit_code == 0
    for address, visibility in ((f"inner@{d}", "members"), (f"hidden@{d}", "private")):
        assert run(node.config, "lists", "set", address, "visibility", visibility).exit_code == 0


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode(), _lower(answer.headers.items())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), _lower(exc.headers.items())


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def shows(url: str, text: str) -> bool:
    """Does the page at `url` answer, with `text` in it (False while it cannot answer)?"""
    with suppress(OSError):
        return text in get(url)[1]
    return False


def up(node: Node) -> bool:
    with suppress(OSError):
        return get(f"{node.web}/")[0] == 200
    return False


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    """philly, nyc and atl, each serving, each the others' peer by its web face."""
    found = {s: Node(s, tmp_path_factory.mktemp(s), free_port()) for s in SHORTS}
    for node in found.values():
        peers = {s: found[s].web for s in SHORTS if s != node.short}
        node.config.write_text(config_text(node, peers))
        fill(node)
    with (
        serving(found["philly"].config, found["philly"].base / "log"),
        serving(found["nyc"].config, found["nyc"].base / "log"),
        serving(found["atl"].config, found["atl"].base / "log") as found["atl"].process,
    ):
        for node in found.values():
            wait_for(lambda n=node: up(n))
        yield found


def search(config: Path, query: str, *options: str) -> Any:
    return run(config, "archive", "search", "--network", *options, query)


def test_network_search_across_three_nodes_then_with_one_stopped(
    nodes: dict[str, Node],
) -> None:
    philly, atl = nodes["philly"], nodes["atl"]
    result = search(philly.config, "strike", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["missing"] == []
    hits = answer["hits"]
    # public lists only, on every node; each node's first hit before any second,
    # and those of the same rank newest first (atl's picket rota is the newest)
    assert [(h["rank"], h["node"], h["list"]) for h in hits] == [
        (1, domain("philly"), f"coc@{domain('philly')}"),
        (1, domain("nyc"), f"coc@{domain('nyc')}"),
        (1, domain("atl"), f"coc@{domain('atl')}"),
        (2, domain("atl"), f"coc@{domain('atl')}"),
        (2, domain("nyc"), f"coc@{domain('nyc')}"),
        (2, domain("philly"), f"coc@{domain('philly')}"),
    ]
    assert {h["node"] for h in hits} == {domain(s) for s in SHORTS}
    nyc_hit = next(h for h in hits if h["node"] == domain("nyc"))
    assert nyc_hit["url"] == nodes["nyc"].web + post_path(nyc_hit["list"], nyc_hit["message_id"])
    status, page, _ = get(nyc_hit["url"])
    assert status == 200 and nyc_hit["subject"] in page  # the link leads to the post

    assert atl.process is not None
    atl.process.send_signal(signal.SIGTERM)  # the serve process this module started
    atl.process.wait(30)

    result = search(philly.config, "strike")
    assert result.exit_code == 0, result.output
    assert f"on {domain('philly')}" in result.stdout and f"on {domain('nyc')}" in result.stdout
    assert domain("atl") not in result.stdout
    assert f"(no results from atl ({domain('atl')}): refused" in result.stderr

    status, page, _ = get(f"{philly.web}/search?q=strike&network=1")
    assert status == 200
    assert "No results from lists.atl.example (atl): refused" in page
    assert f"coc at {domain('nyc')}</span>" not in page  # the list is shown with its node
    assert f"coc at {domain('nyc')} on {domain('nyc')}" in page
    assert f'href="{nodes["nyc"].web}/coc@{domain("nyc")}/m/strike1%40{domain("nyc")}"' in page
    assert f'href="/coc@{domain("philly")}/m/strike1%40{domain("philly")}"' in page
    assert "secret" not in page and "hidden" not in page
    assert 'name="network" value="1" checked' in page


def test_the_json_endpoint_serves_public_lists_only(nodes: dict[str, Node]) -> None:
    nyc = nodes["nyc"]
    status, body, headers = get(f"{nyc.web}/search.json?q=strike")
    assert status == 200 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["version"] == 1 and answer["node"] == domain("nyc")
    assert {h["list"] for h in answer["hits"]} == {f"coc@{domain('nyc')}"}
    assert [h["rank"] for h in answer["hits"]] == [1, 2]
    assert {h["from"] for h in answer["hits"]} == {"Ann Nyc", f"bob at {domain('nyc')}"}
    for query in ("secret", "lawyer", "list:inner strike", "list:hidden strike"):
        status, body, _ = get(f"{nyc.web}/search.json?q={quote(query)}")
        assert (status, json.loads(body)["hits"]) == (200, []), query


def test_a_bad_query_is_a_400_with_the_reason(nodes: dict[str, Node]) -> None:
    nyc, philly = nodes["nyc"], nodes["philly"]
    status, body, _ = get(f"{nyc.web}/search.json?q={quote('after:someday')}")
    assert status == 400
    assert json.loads(body) == {"error": "bad query: after:someday is not a date (use YYYY-MM-DD)"}
    status, page, _ = get(f"{philly.web}/search?network=1&q={quote('after:someday')}")
    assert status == 400 and "after:someday is not a date" in page
    result = search(philly.config, "after:someday")
    assert result.exit_code == 1 and "after:someday is not a date" in result.stderr


# Peers that misbehave: a server that takes the connection and never answers, and one
# that answers what a broken or hostile node might.


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and reads, but never answers; its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with suppress(OSError):
                conn, _ = listener.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        for conn in held:
            conn.close()


HOSTILE_HIT = {
    "rank": 1,
    "list": "coc@lists.evil.example",
    "message_id": "x1@evil.example",
    "subject": "<script>alert(1)</script> strike \x1b[31mred",
    "from": "<b>Eve</b>",
    "date": "2024-03-09T10:00:00Z",
    "snippet": "a **strike** <img src=x onerror=alert(2)>",
}
ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/garbage/search.json": (200, {}, b"<html>not json"),
    "/huge/search.json": (200, {}, b'{"hits": [' + b" " * (600 * 1024) + b"]}"),
    "/shape/search.json": (200, {}, json.dumps({"hits": [{"rank": 1, "list": 5}]}).encode()),
    "/away/search.json": (302, {"Location": "file:///etc/passwd"}, b""),
    "/elsewhere/search.json": (302, {"Location": "http://127.0.0.2:8080/search.json"}, b""),
    "/broken/search.json": (500, {}, b"oops"),
    "/hostile/search.json": (200, {}, json.dumps({"hits": [HOSTILE_HIT]}).encode()),
    "/moved/search.json": (301, {"Location": "/hostile/search.json?q=strike"}, b""),
    "/loop/search.json": (302, {"Location": "/loop/search.json"}, b""),
}


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, headers, body = ANSWERS.get(self.path.split("?")[0], (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def odd_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def alternative(node: Node, peers: dict[str, str], deadline: str = "3s") -> Path:
    """Another config for `node`'s data, with these peers (for the command line)."""
    path = node.base / "alternative.toml"
    path.write_text(config_text(node, peers, deadline))
    return path


def test_a_slow_peer_is_cut_at_the_deadline(nodes: dict[str, Node]) -> None:
    philly, nyc = nodes["philly"], nodes["nyc"]
    with silent_server() as slow:
        config = alternative(philly, {"nyc": nyc.web, "slow": slow}, deadline="1s")
        result = search(config, "strike", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert {h["node"] for h in hits} == {domain("philly"), domain("nyc")}
    assert json.loads(result.stdout)["missing"] == [
        {"peer": "slow", "node": "slow.example", "reason": "timeout: no answer within 1 s"}
    ]
    assert "(no results from slow (slow.example): timeout: no answer within 1 s)" in result.stderr


def test_peers_answering_garbage_are_left_out_with_the_reason(nodes: dict[str, Node]) -> None:
    philly = nodes["philly"]
    with odd_server() as odd:
        names = ("garbage", "huge", "shape", "away", "elsewhere", "broken")
        config = alternative(philly, {name: f"{odd}/{name}" for name in names})
        result = search(config, "strike", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {h["node"] for h in answer["hits"]} == {domain("philly")}
    assert {m["peer"]: m["reason"] for m in answer["missing"]} == {
        "garbage": "bad answer: not JSON",
        "huge": f"bad answer: {600 * 1024 + 12:,} bytes, more than {512 * 1024:,}",
        "shape": "bad answer: hits[0].list is not a string",
        "away": "bad answer: a redirect to file:",
        "elsewhere": "bad answer: a redirect to another host (127.0.0.2)",
        "broken": "bad answer: HTTP 500",
    }


def test_a_hostile_peers_answer_is_escaped_on_the_page(nodes: dict[str, Node]) -> None:
    philly = nodes["philly"]
    with odd_server() as odd:
        evil = PeerConfig("evil", "lists.evil.example", "", trust="dkim", web=f"{odd}/hostile")
        net = Network(domain("philly"), peers=(evil,))
        with TestClient(build(philly.database, network=net)) as client:
            page = client.get("/search", params={"q": "strike", "network": "1"}).text
        result = search(alternative(philly, {"evil": f"{odd}/hostile"}), "strike")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; strike" in page
    assert "<script>" not in page and "<img" not in page and "\x1b" not in page
    assert "&lt;b&gt;Eve&lt;/b&gt;" in page and "<mark>strike</mark>" in page
    assert f'href="{odd}/hostile/coc@lists.evil.example/m/x1%40evil.example"' in page
    assert (
        "\x1b" not in result.stdout and "<script>alert(1)</script> strike [31mred" in result.stdout
    )


def test_too_many_searches_from_one_client_get_429(nodes: dict[str, Node]) -> None:
    philly, nyc = nodes["philly"], nodes["nyc"]
    nyc_peer = PeerConfig("nyc", domain("nyc"), "", trust="dkim", web=nyc.web)
    net = Network(domain("philly"), peers=(nyc_peer,))
    with TestClient(build(philly.database, network=net, search_rate=2)) as client:
        assert client.get("/search.json", params={"q": "strike"}).status_code == 200
        assert client.get("/search", params={"q": "strike", "network": "1"}).status_code == 200
        refused = client.get("/search.json", params={"q": "strike"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json() == {"error": "too many searches: at most 2 a minute"}
        page = client.get("/search", params={"q": "strike", "network": "1"})
        assert page.status_code == 429 and "Too many searches" in page.text
        # this node's own search is not a network search: it is not counted
        assert client.get("/search", params={"q": "strike"}).status_code == 200


# The wire format's reader and the merge rule, without a network.


def hit(node: str, rank: int, date: float) -> NetHit:
    return NetHit(node, rank, "l@x.example", f"{node}{rank}@x", "", "", date, "", "")


def test_the_merge_takes_every_nodes_first_hit_before_any_second_newest_first() -> None:
    a = [hit("a", 1, 100.0), hit("a", 2, 900.0)]
    b = [hit("b", 1, 200.0), hit("b", 2, 50.0), hit("b", 3, 999.0)]
    c = [hit("c", 1, 200.0)]
    merged = merge([a, b, c], limit=5)
    assert [(h.node, h.rank) for h in merged] == [("b", 1), ("c", 1), ("a", 1), ("a", 2), ("b", 2)]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ([], "not a JSON object"),
        ({"hits": {}}, "no hits array"),
        ({"hits": [1]}, "hits[0] is not an object"),
        ({"hits": [{**HOSTILE_HIT, "rank": 2}]}, "hits[0].rank is not 1"),
        ({"hits": [{**HOSTILE_HIT, "rank": True}]}, "hits[0].rank is not 1"),
        ({"hits": [{**HOSTILE_HIT, "list": "no address"}]}, "hits[0].list is not a list address"),
        (
            {"hits": [{**HOSTILE_HIT, "message_id": "a b"}]},
            "hits[0].message_id is not a Message-ID",
        ),
        (
            {"hits": [{**HOSTILE_HIT, "date": "yesterday"}]},
            "hits[0].date is not YYYY-MM-DDTHH:MM:SSZ",
        ),
        ({"hits": [HOSTILE_HIT] * 101}, "101 hits, more than 100"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_refused(answer: object, reason: str) -> None:
    with pytest.raises(BadAnswer) as caught:
        read_answer(answer, "n", lambda lst, mid: "")
    assert str(caught.value) == reason


def test_network_search_takes_no_list_or_all_option(nodes: dict[str, Node]) -> None:
    for option in (["--list", f"coc@{domain('philly')}"], ["--all"]):
        result = search(nodes["philly"].config, "strike", *option)
        assert result.exit_code == 2 and "use list:NAME in the query" in result.stderr


def test_too_many_network_searches_at_once_get_503(nodes: dict[str, Node]) -> None:
    """Each holds a worker thread up to the deadline: at most NETWORK_SEARCHES at once."""
    from listfed.web.site import NETWORK_SEARCHES, Site

    nyc_peer = PeerConfig("nyc", domain("nyc"), "", trust="dkim", web=nodes["nyc"].web)
    app = build(nodes["philly"].database, network=Network(domain("philly"), peers=(nyc_peer,)))
    site = app.app.state.site  # type: ignore[attr-defined]
    assert isinstance(site, Site)
    with TestClient(app) as client:
        for _ in range(NETWORK_SEARCHES):  # as if that many were waiting for their peers
            assert site.asking.acquire(blocking=False)
        busy = client.get("/search", params={"q": "strike", "network": "1"})
        assert busy.status_code == 503 and "many people at once" in busy.text
        site.asking.release()
        assert client.get("/search", params={"q": "strike", "network": "1"}).status_code == 200


def test_a_reload_gives_the_web_face_new_peers(tmp_path: Path, nodes: dict[str, Node]) -> None:
    node = Node("philly", tmp_path, free_port())
    node.config.write_text(config_text(node, {}))
    fill(node)
    log = tmp_path / "log"
    with serving(node.config, log) as proc:
        wait_for(lambda: up(node))
        assert 'name="network"' not in get(f"{node.web}/search?q=strike")[1]
        node.config.write_text(config_text(node, {"nyc": nodes["nyc"].web}))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: shows(f"{node.web}/search?q=strike", 'name="network"'))
        status, page, _ = get(f"{node.web}/search?q=strike&network=1")
        assert status == 200 and f"on {domain('nyc')}" in page
        assert "restarting with new settings" in log.read_text()
        assert "[web] listen is now" not in log.read_text()


def test_http_redirects_are_followed_three_at_most(nodes: dict[str, Node]) -> None:
    with odd_server() as odd:
        config = alternative(nodes["philly"], {"moved": f"{odd}/moved", "loop": f"{odd}/loop"})
        result = search(config, "strike", "--json")
    answer = json.loads(result.stdout)
    assert {h["node"] for h in answer["hits"]} == {domain("philly"), "moved.example"}
    assert answer["missing"] == [
        {"peer": "loop", "node": "loop.example", "reason": "bad answer: more than 3 redirects"}
    ]
