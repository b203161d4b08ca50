"""One-click unsubscribe (RFC 8058, SPEC §10): where `[node] base_url` is set, each
member's copy carries its own List-Unsubscribe URL and List-Unsubscribe-Post; a POST to
it unsubscribes at once (200, no redirect, harmless to repeat), a GET never does, a
forged token does nothing; DKIM covers both fields; `one_click false` turns it off."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dkim
from starlette.testclient import TestClient

from listfed import oneclick
from listfed.db import lists as stored_lists
from listfed.db import members as stored_members
from listfed.db.engine import Database
from listfed.delivery.copies import SIGNED_AT_ONCE, Letter
from listfed.delivery.transport import SendResult
from listfed.delivery.worker import Deliverer
from listfed.web.app import build
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world
from tests.dnsstub import StubDns
from tests.test_dkim_flow import lookup, pems, signing_node, stub  # noqa: F401 (fixtures)

TEAM = f"team@{DOMAIN}"
PEOPLE = ["ann@example.net", "bob@example.net", "cy@example.org"]
BASE = "https://lists.example.org"
URL = re.compile(
    r"<https://lists\.example\.org/u/([^>]+)>, <mailto:team-leave@lists\.example\.org>"
)


@asynccontextmanager
async def node(tmp_path: Path, smarthost: RecordingSmarthost, **lst: str) -> AsyncIterator[World]:
    async with running_world(tmp_path, smarthost, node={"base_url": BASE}) as w:
        w.make_list(TEAM, people=PEOPLE, **lst)
        yield w


def copies(smarthost: RecordingSmarthost) -> dict[str, Any]:
    return {r: m.message for r, m in smarthost.deliveries()}


def web(w: World) -> TestClient:
    app = build(w.node.config.node.data_dir / "listfed.db", 5.0, BASE, w.node.secret)
    return TestClient(app, base_url="https://testserver")


def is_member(w: World, address: str) -> bool:
    with w.node.db.read() as s:
        return stored_members.find(s, stored_lists.get(s, TEAM).id, address) is not None


async def test_each_member_gets_a_url_of_their_own_and_a_post_to_it_unsubscribes(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with node(tmp_path, smarthost) as w:
        await w.send(post("Budget", sender="ann@example.net"), TEAM, "ann@example.net")
        await w.idle()
        got = copies(smarthost)
        assert sorted(got) == PEOPLE
        assert len(smarthost.received) == 3  # the copies differ: a transaction each
        tokens = {}
        for address, msg in got.items():
            found = URL.fullmatch(str(msg["List-Unsubscribe"]))
            assert found is not None, msg["List-Unsubscribe"]
            assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert msg["List-Archive"] == f"<{BASE}/{TEAM}/>"
            assert len(msg.get_all("List-Unsubscribe")) == 1
            tokens[address] = found.group(1)
        assert len(set(tokens.values())) == 3

        client = web(w)
        bob = f"/u/{tokens['bob@example.net']}"
        page = client.get(bob)  # a link scanner, or the member looking first
        assert page.status_code == 200 and 'name="List-Unsubscribe"' in page.text
        assert is_member(w, "bob@example.net")
        done = client.post(bob, content=b"List-Unsubscribe=One-Click", follow_redirects=False)
        assert done.status_code == 200 and "no longer subscribed" in done.text
        assert not is_member(w, "bob@example.net")
        again = client.post(bob, content=b"List-Unsubscribe=One-Click")
        assert again.status_code == 200 and "not subscribed" in again.text

        # a forged or altered token, or a POST without the field, does nothing
        cy = tokens["cy@example.org"]
        altered = cy[:-1] + ("a" if cy[-1] != "a" else "b")
        for path, body in [
            (f"/u/{altered}", b"List-Unsubscribe=One-Click"),
            (f"/u/{tokens['ann@example.net'].split('.')[0]}.999.{cy.split('.')[2]}", b"x"),
            (f"/u/{cy}", b""),
            ("/u/not-a-token", b"List-Unsubscribe=One-Click"),
        ]:
            assert client.post(path, content=body).status_code in (200, 400)
        assert (
            client.post(f"/u/{altered}", content=b"List-Unsubscribe=One-Click").status_code == 400
        )
        assert is_member(w, "cy@example.org") and is_member(w, "ann@example.net")

        # RFC 8058 says the POST SHOULD be multipart/form-data: Cy's mail program sends that
        multipart = (
            b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n--b--\r\n"
        )
        kind = {"Content-Type": "multipart/form-data; boundary=b"}
        done = client.post(f"/u/{cy}", content=multipart, headers=kind)
        assert done.status_code == 200 and not is_member(w, "cy@example.org")
        # and a body far over what the one field needs is refused before it is read
        huge = client.post(f"/u/{tokens['ann@example.net']}", content=b"x" * 100_000)
        assert huge.status_code == 413 and is_member(w, "ann@example.net")


async def test_one_click_false_keeps_the_mailto_and_one_transaction(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with node(tmp_path, smarthost, one_click="false") as w:
        await w.send(post("Budget", sender="ann@example.net"), TEAM, "ann@example.net")
        await w.idle()
        got = copies(smarthost)
        assert sorted(got) == PEOPLE and len(smarthost.received) == 1
        for msg in got.values():
            assert msg["List-Unsubscribe"] == f"<mailto:team-leave@{DOMAIN}>"
            assert msg["List-Unsubscribe-Post"] is None


def test_a_token_names_its_list_member_and_address_only() -> None:
    token = oneclick.make("s" * 32, 3, 7, "Ann@Example.net")
    read = oneclick.read(token)
    assert read is not None and (read.list_id, read.member_id) == (3, 7)
    assert oneclick.valid("s" * 32, read, "ann@example.net")
    assert not oneclick.valid("s" * 32, read, "bob@example.net")
    assert not oneclick.valid("t" * 32, read, "ann@example.net")
    assert oneclick.read("3.7.x") is None and oneclick.read("../../etc") is None


async def test_dkim_covers_both_fields_of_each_copy_and_arc_holds(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    stub: StubDns,  # noqa: F811 (the fixture)
    pems: dict[str, str],  # noqa: F811
) -> None:
    async with signing_node(tmp_path, smarthost, stub, pems["node"], node={"base_url": BASE}) as w:
        w.make_list(TEAM, people=PEOPLE)
        await w.send(post("Signed", sender="ann@example.net"), TEAM, "ann@example.net")
        await w.idle()
        assert len(smarthost.received) == 3
        for received in smarthost.received:
            head = received.data.split(b"\r\n\r\n", 1)[0].lower()
            signature = re.sub(rb"\r\n[ \t]+", b" ", head.split(b"dkim-signature:", 1)[1])
            signed = signature.split(b" h=", 1)[1].split(b";", 1)[0]
            assert b"list-unsubscribe:" in signed and b"list-unsubscribe-post" in signed
            assert dkim.verify(received.data, dnsfunc=lookup(stub))
            # and the list's ARC set (one seal per post, shared by the copies) holds
            assert head.count(b"arc-seal:") == 1
            assert dkim.arc_verify(received.data, dnsfunc=lookup(stub))[0] == b"pass"


async def test_copies_signed_some_at_a_time_each_verify_and_a_refusal_is_one_bounce(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    stub: StubDns,  # noqa: F811 (the fixture)
    pems: dict[str, str],  # noqa: F811
) -> None:
    """More members than delivery signs at once (the next ones are signed while the
    first go out): every copy verifies with its own URL, and the one member whose
    server refuses gets the bounce, nobody else."""
    people = [f"m{n:02d}@example.net" for n in range(SIGNED_AT_ONCE + 7)]
    gone = people[SIGNED_AT_ONCE + 1]
    smarthost.rcpt_reply = lambda a: "550 5.1.1 No such user" if a == gone else None
    async with signing_node(tmp_path, smarthost, stub, pems["node"], node={"base_url": BASE}) as w:
        w.make_list(TEAM, people=people)
        await w.send(post("Signed", sender=people[0]), TEAM, people[0])
        await w.idle()
        got = copies(smarthost)
        assert sorted(got) == sorted(set(people) - {gone})
        assert len(smarthost.received) == len(people) - 1  # one transaction each
        urls = set()
        for received in smarthost.received:
            assert dkim.verify(received.data, dnsfunc=lookup(stub))
            (address,) = received.rcpt_tos
            urls.add(str(got[address]["List-Unsubscribe"]))
        assert len(urls) == len(people) - 1
        with w.node.db.read() as s:
            team = stored_lists.get(s, TEAM).id
            found = {a: stored_members.find(s, team, a) for a in people}
        scores = {a: m.bounce_score for a, m in found.items() if m is not None}
        assert scores == {a: int(a == gone) for a in people}


class _Recorder:
    """A transport that accepts every copy and notes who got one."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        raise AssertionError("one-click copies go one by one")

    async def send_each(self, copies: list[tuple[str, str, bytes]]) -> SendResult:
        self.sent += [rcpt for _f, rcpt, _d in copies]
        return SendResult(accepted=[rcpt for _f, rcpt, _d in copies])

    async def close(self) -> None:
        return None


class _Everyone:
    def possible(self) -> bool:
        return True

    def __call__(self, list_id: int, recipients: list[str]) -> dict[str, bytes]:
        return {a: f"List-Unsubscribe: <{BASE}/u/{a}>\r\n".encode() for a in recipients}


async def test_copies_that_cannot_be_made_wait_and_the_sent_ones_are_not_sent_again(
    tmp_path: Path,
) -> None:
    """Signing fails for the second lot of a batch: the first lot went out and counts
    as delivered; the rest wait for a retry, so nobody gets a copy twice."""
    people = [f"m{n:02d}@example.net" for n in range(SIGNED_AT_ONCE + 5)]
    lots: list[int] = []

    def sign_each(letter: Letter, above: list[bytes]) -> list[bytes]:
        lots.append(len(above))
        if len(lots) > 1:
            raise RuntimeError("the signer broke")
        return [fields + letter.data for fields in above]

    transport = _Recorder()
    db = Database(tmp_path / "d.db")
    deliverer = Deliverer(db, [transport], (60.0,), sign_each=sign_each, personal=_Everyone())
    letter = Letter(f"team-bounces@{DOMAIN}", post("Hi", sender=people[0]), "<hi@x>", "post", 1)
    try:
        result = await deliverer._send(transport, letter, people, 1)
    finally:
        db.close()
    assert transport.sent == result.accepted == people[:SIGNED_AT_ONCE]
    assert sorted(result.temporary) == people[SIGNED_AT_ONCE:] and not result.permanent
