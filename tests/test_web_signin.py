"""Signing in for `members` archives (SPEC §10) through starlette's TestClient, over a
real node database that the command line made: the link by mail (read from the node's
outbox, where the delivery worker would take it), the button, the cookie, and every way
a link or cookie must fail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from listfed.config import load_config
from listfed.context import node_settings
from listfed.db.engine import Database
from listfed.ops import members
from listfed.ops.node import node_secret
from listfed.web.app import build
from tests.conftest import DOMAIN
from tests.test_archive_cli import mbox_bytes, message
from tests.test_web import run

TEAM = f"team@{DOMAIN}"
SECRET = f"secret@{DOMAIN}"  # visibility members
HIDDEN = f"hidden@{DOMAIN}"  # visibility private
ANN, BOB = "ann@example.org", "bob@example.com"
HUSH = message("hush@x", "Members only", "Nobody outside reads this.\n")
SAME = "If that address is a member of a list here"


@dataclass
class Clock:
    now: float = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Node:
    base: Path
    clock: Clock = field(default_factory=Clock)

    @property
    def db_path(self) -> Path:
        return self.base / "var" / "listfed.db"

    def client(self) -> TestClient:
        """The web face as `serve` runs it, at an https address (the cookie is Secure)."""
        config = load_config(self.base / "listfed.toml")
        node = node_settings(config, node_secret(config))
        app = build(self.db_path, secret=node.secret, node=node, clock=self.clock)
        return TestClient(app, base_url="https://testserver")

    def sent(self, to: str) -> list[bytes]:
        """The messages in the outbox for `to`."""
        db = Database(self.db_path)
        try:
            with db.read() as s:
                rows = s.connection().execute(
                    text(
                        "SELECT g.data FROM outbox o JOIN outgoing g ON g.id = o.outgoing_id "
                        "WHERE o.address = :a ORDER BY o.id"
                    ),
                    {"a": to},
                )
                return [bytes(r[0]) for r in rows]
        finally:
            db.close()

    def remove(self, address: str, list_address: str) -> None:
        db = Database(self.db_path)
        try:
            with db.write() as s:
                members.remove(s, list_address, [address])
        finally:
            db.close()


@pytest.fixture
def node(tmp_path: Path) -> Node:
    config = tmp_path / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    for address in (TEAM, SECRET, HIDDEN):
        run(config, "lists", "create", address)
    run(config, "lists", "set", SECRET, "visibility", "members")
    run(config, "lists", "set", HIDDEN, "visibility", "private")
    run(config, "members", "add", SECRET, ANN)
    run(config, "members", "add", HIDDEN, ANN)
    run(config, "members", "add", TEAM, BOB)
    (tmp_path / "hush.mbox").write_bytes(mbox_bytes([HUSH]))
    for address in (SECRET, HIDDEN):
        run(config, "archive", "import", address, str(tmp_path / "hush.mbox"))
    return Node(tmp_path)


@pytest.fixture
def client(node: Node) -> Iterator[TestClient]:
    with node.client() as c:
        yield c


def sign_in_link(node: Node, client: TestClient, address: str) -> str:
    page = client.post("/login", data={"email": address})
    assert page.status_code == 200 and SAME in page.text
    [mail] = node.sent(address)
    found = re.search(rb"https://testserver/login/([A-Za-z0-9_-]+)", mail)
    assert found is not None, mail
    return found.group(1).decode()


def test_signing_in_with_a_link_opens_members_archives(node: Node, client: TestClient) -> None:
    assert client.get(f"/{SECRET}/").status_code == 404
    assert "secret at" not in client.get("/").text
    token = sign_in_link(node, client, ANN)
    button = client.get(f"/login/{token}")  # what a mail scanner does: nothing spent
    assert button.status_code == 200 and f'action="/login/{token}"' in button.text
    assert "set-cookie" not in button.headers
    assert client.get(f"/{SECRET}/").status_code == 404
    done = client.post(f"/login/{token}", follow_redirects=False)
    assert done.status_code == 303
    cookie = done.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "secure", "max-age=2592000"):
        assert attribute in cookie
    page = client.get(f"/{SECRET}/")
    assert page.status_code == 200 and "Members only" in page.text
    assert page.headers["cache-control"] == "private, no-store"  # no shared cache keeps it
    assert "Members only" in client.get(f"/{SECRET}/t/hush%40x").text
    assert "<mark>outside</mark>" in client.get(f"/{SECRET}/search", params={"q": "outside"}).text
    assert "secret at" in client.get("/").text
    everywhere = client.get("/search", params={"q": "outside"})
    assert "Members only" in everywhere.text
    assert client.get(f"/{HIDDEN}/").status_code == 404  # private: nobody, ever
    again = client.post(f"/login/{token}", follow_redirects=False)
    assert again.status_code == 400 and "used already" in again.text
    node.remove(ANN, SECRET)  # leaving ends the access, whatever the cookie says
    assert client.get(f"/{SECRET}/").status_code == 404
    assert "Members only" not in client.get("/search", params={"q": "outside"}).text


def test_the_cookie_lasts_thirty_days_and_signing_out_ends_it(
    node: Node, client: TestClient
) -> None:
    client.post(f"/login/{sign_in_link(node, client, ANN)}")
    node.clock.now += 29 * 86400
    assert client.get(f"/{SECRET}/").status_code == 200
    assert "signed in as ann at example.org" in client.get("/login").text
    client.post("/logout")
    assert client.get(f"/{SECRET}/").status_code == 404
    client.post(f"/login/{sign_in_link_again(node, client)}")
    node.clock.now += 30 * 86400 + 1
    assert client.get(f"/{SECRET}/").status_code == 404


def sign_in_link_again(node: Node, client: TestClient) -> str:
    """A second link an hour later (one mail per address per hour)."""
    node.clock.now += 3601
    client.post("/login", data={"email": ANN})
    found = re.findall(rb"https://testserver/login/([A-Za-z0-9_-]+)", node.sent(ANN)[-1])
    return found[0].decode()


def test_no_link_for_an_address_that_is_no_member_and_the_same_page(
    node: Node, client: TestClient
) -> None:
    member = client.post("/login", data={"email": ANN})
    stranger = client.post("/login", data={"email": "eve@example.net"})
    assert member.text == stranger.text
    assert len(node.sent(ANN)) == 1 and node.sent("eve@example.net") == []
    bad = client.post("/login", data={"email": "not an address"})
    assert bad.status_code == 400 and "not a mail address" in bad.text


def test_one_link_per_address_an_hour_and_ten_mails_per_client(
    node: Node, client: TestClient
) -> None:
    for _ in range(3):
        assert SAME in client.post("/login", data={"email": ANN}).text
    assert len(node.sent(ANN)) == 1
    # the client's budget is shared with the subscribe form: ten mails an hour in all
    strangers = [f"victim{n}@example.org" for n in range(12)]
    for address in strangers:
        client.post(f"/{TEAM}/subscribe", data={"email": address})
    assert sum(len(node.sent(a)) for a in strangers) == 9
    node.clock.now += 3601
    assert SAME in client.post("/login", data={"email": ANN}).text
    assert len(node.sent(ANN)) == 2


def test_expired_altered_and_used_links_sign_nobody_in(node: Node, client: TestClient) -> None:
    token = sign_in_link(node, client, ANN)
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (altered, "nonsense", "x" * 5000):
        page = client.post(f"/login/{bad}", follow_redirects=False)
        assert page.status_code == 400 and "not valid" in page.text
        assert "set-cookie" not in page.headers
    node.clock.now += 15 * 60 + 1
    assert "expired" in client.get(f"/login/{token}").text
    late = client.post(f"/login/{token}", follow_redirects=False)
    assert late.status_code == 400 and "expired" in late.text
    assert client.get(f"/{SECRET}/").status_code == 404


def test_a_forged_or_foreign_cookie_reads_nothing(node: Node, client: TestClient) -> None:
    client.post(f"/login/{sign_in_link(node, client, ANN)}", follow_redirects=False)
    value = client.cookies["listfed_session"]
    expires, address, mac = value.split(".")
    forged = [
        f"{expires}.{address}.{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}",
        f"{int(expires) + 86400 * 365}.{address}.{mac}",  # a longer life: the MAC says no
        f"{expires}.Ym9iQGV4YW1wbGUuY29t.{mac}",  # another address (bob@example.com)
        "garbage",
    ]
    for bad in forged:
        client.cookies.clear()
        client.cookies.set("listfed_session", bad)
        assert client.get(f"/{SECRET}/").status_code == 404


def test_forgetting_a_member_forgets_their_links(node: Node, client: TestClient) -> None:
    token = sign_in_link(node, client, ANN)
    run(node.base / "listfed.toml", "members", "forget", ANN)
    page = client.post(f"/login/{token}", follow_redirects=False)
    assert page.status_code == 400 and "set-cookie" not in page.headers
