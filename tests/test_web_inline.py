"""Small pages are made on the web worker's loop, big ones in the thread pool
(web/inline.py), and both are the same pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from listfed.archive import opendb
from listfed.web import inline
from listfed.web.app import build
from tests.conftest import DOMAIN
from tests.test_archive_cli import OTHER, TEAM, mbox_bytes, message
from tests.test_archive_ranked import feed_all, started
from tests.test_web import client, run

__all__ = ["client"]  # a fixture of test_web's, over this module's node

HIDDEN = f"hidden@{DOMAIN}"
BIG = "x" * (inline.INLINE_BYTES + 1000)
# a thread whose posts are each small and together over the bound
LONG_THREAD = [
    message(
        f"long{i}@x",
        "Re: Long thread" if i else "Long thread",
        f"Post {i} of the long thread.\n" + "y " * 10_000 + "\n",
        extra=f"In-Reply-To: <long{i - 1}@x>\n" if i else "",
    )
    for i in range(8)
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("inline")
    config = base / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    for address in (TEAM, OTHER, HIDDEN):
        run(config, "lists", "create", address)
    run(config, "lists", "set", HIDDEN, "visibility", "private")
    posts = [
        message("small@x", "Small", "A short post.\n"),
        message("big@x", "Big", f"A long post: {BIG}\n"),
        *LONG_THREAD,
    ]
    (base / "team.mbox").write_bytes(mbox_bytes(posts))
    run(config, "archive", "import", TEAM, str(base / "team.mbox"))
    (base / "other.mbox").write_bytes(mbox_bytes([message("hello@x", "Hello", "Hi all.\n")]))
    run(config, "archive", "import", OTHER, str(base / "other.mbox"))
    (base / "hidden.mbox").write_bytes(mbox_bytes([message("big@x", "Hidden", BIG)]))
    run(config, "archive", "import", HIDDEN, str(base / "hidden.mbox"))
    return base


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the pages handed to the thread pool."""
    names: list[str] = []
    real = inline.run_in_threadpool

    async def spy(page: Callable[..., Any], *args: Any) -> Any:
        names.append(page.__name__)
        return await real(page, *args)

    monkeypatch.setattr(inline, "run_in_threadpool", spy)
    return names


def _post(address: str, mid: str, kind: str = "m") -> str:
    return f"/{address}/{kind}/{quote(mid, safe='')}"


def test_small_pages_are_made_on_the_loop(client: TestClient, pooled: list[str]) -> None:
    small = client.get(_post(TEAM, "small@x"))
    assert small.status_code == 200 and "A short post." in small.text
    thread = client.get(_post(TEAM, "small@x", "t"))
    assert thread.status_code == 200 and "A short post." in thread.text
    feed = client.get(f"/{OTHER}/atom.xml")
    assert feed.status_code == 200 and "Hi all." in feed.text
    assert client.get(_post(TEAM, "small@x") + "/raw").text.endswith("A short post.\n")
    assert pooled == []


def test_big_pages_go_to_the_pool_and_are_the_same_pages(
    client: TestClient, pooled: list[str]
) -> None:
    big = client.get(_post(TEAM, "big@x"))
    assert big.status_code == 200 and BIG in big.text
    assert client.get(_post(TEAM, "big@x") + "/raw").text.endswith(f"{BIG}\n")
    thread = client.get(_post(TEAM, "long3@x", "t"))
    assert thread.status_code == 200
    assert all(f"Post {i} of the long thread." in thread.text for i in range(8))
    mbox = client.get(_post(TEAM, "long3@x", "t") + ".mbox")
    assert mbox.status_code == 200 and mbox.text.count("\nFrom ") == 7
    feed = client.get(f"/{TEAM}/atom.xml")  # its newest posts include the big one
    assert feed.status_code == 200 and "Long thread" in feed.text and BIG in feed.text
    assert pooled == ["message", "message", "thread", "thread", "atom"]


def test_a_list_the_visitor_may_not_read_is_a_404_made_where_a_missing_lists_is(
    client: TestClient, pooled: list[str]
) -> None:
    hidden = client.get(_post(HIDDEN, "big@x"))
    missing = client.get(_post(f"nosuch@{DOMAIN}", "big@x"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert client.get(_post(TEAM, "nosuch@x")).status_code == 404
    assert client.get(f"/{TEAM}/m/").status_code == 404
    assert pooled == []


def test_a_search_the_ranked_index_answers_is_made_on_the_loop(
    node: Path, pooled: list[str]
) -> None:
    database = node / "var" / "listfed.db"
    with TestClient(build(database)) as fresh:  # no index yet (no daemon made one): FTS5
        assert "Small" in fresh.get(f"/{TEAM}/search", params={"q": "short"}).text
    assert pooled == ["in_list"]
    conn = opendb.connect(database, 5.0)
    feed_all(started(database, conn), conn)
    conn.close()
    with TestClient(build(database)) as fresh:
        assert "Small" in fresh.get(f"/{TEAM}/search", params={"q": "short"}).text
        assert "Hello" in fresh.get("/search", params={"q": "hi"}).text
        assert pooled == ["in_list"]  # both on the loop
        assert "Small" in fresh.get(f"/{TEAM}/search", params={"q": "shor*"}).text
        assert pooled == ["in_list", "in_list"]  # a prefix is FTS5's: in the pool
