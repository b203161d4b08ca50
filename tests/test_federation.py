"""Committees of correspondence: routes between lists on two and three nodes over
loopback SMTP, with signed traces, thread following, loops and forged relays."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlmodel import select

from listfed.db.models import Held
from listfed.federation import signing
from listfed.listinfo import Policy
from tests.conftest import RecordingSmarthost, post
from tests.federation import domain_of, federation, node_name, secret_for

ACTIONS = f"actions@{domain_of('philly')}"
COC_NYC = f"coc@{domain_of('nyc')}"
NATIONAL = {
    "name": "national",
    "from": ACTIONS,
    "to": [COC_NYC],
    "match": {"subject_tag": "national"},
    "follow_thread": True,
    "prefix": "[philly]",
}
BACK = {"name": "back", "from": COC_NYC, "to": [ACTIONS], "follow_thread": True}


async def test_a_tagged_post_relays_once_with_trace_and_an_untagged_one_does_not(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", NATIONAL)
        await fed["philly"].send(
            post("[national] Day of action", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed["philly"].send(
            post("Local only", to=ACTIONS, sender="ann@philly.example", message_id="<m2@x>"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        got = fed.got("ned@nyc.example")
        assert [m["Subject"] for m in got] == ["[coc] [philly] [national] Day of action"]
        assert got[0]["Message-ID"] == "<m1@example.net>"
        assert got[0].get_all("X-Listfed-Trace") == [f"{node_name('philly')} {ACTIONS}"]
        assert got[0]["From"] == "Alice <ann@philly.example>"
        assert len(fed.got("ann@philly.example")) == 2
        assert fed.ledger("philly")[0][:3] == ("out", "national", COC_NYC)
        assert fed.ledger("philly")[0][4] == "sent"
        assert fed.ledger("nyc") == [("in", "", ACTIONS, "m1@example.net", "received")]


async def test_a_reply_on_the_far_list_comes_back_by_follow_thread(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", NATIONAL)
        fed.set_routes("nyc", BACK)
        await fed["philly"].send(
            post("[national] Strike fund", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        reply = post(
            "Re: [coc] [philly] [national] Strike fund",
            body="Count us in.\n",
            to=COC_NYC,
            sender="ned@nyc.example",
            message_id="<r1@nyc.example>",
            extra="In-Reply-To: <m1@example.net>\r\nReferences: <m1@example.net>\r\n",
        )
        await fed["nyc"].send(reply, COC_NYC, mail_from="ned@nyc.example")
        # an unrelated post on nyc's list stays there: the route back has no match
        await fed["nyc"].send(
            post("Local news", to=COC_NYC, sender="ned@nyc.example", message_id="<n2@nyc>"),
            COC_NYC,
            mail_from="ned@nyc.example",
        )
        await fed.idle()
        at_philly = fed.got("ann@philly.example")
        assert [m["Message-ID"] for m in at_philly] == ["<m1@example.net>", "<r1@nyc.example>"]
        back = at_philly[1]
        assert back.get_all("X-Listfed-Trace") == [f"{node_name('nyc')} {COC_NYC}"]
        assert "Count us in." in back.get_content()
        # and the reply does not bounce back to nyc a second time
        assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == [
            "<m1@example.net>",
            "<r1@nyc.example>",
            "<n2@nyc>",
        ]
        # a reply to the reply, on philly, follows the thread without the tag
        await fed["philly"].send(
            post(
                "Re: Strike fund",
                to=ACTIONS,
                sender="ann@philly.example",
                message_id="<m3@philly>",
                extra="In-Reply-To: <r1@nyc.example>\r\n"
                "References: <m1@example.net> <r1@nyc.example>\r\n",
            ),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        assert [m["Message-ID"] for m in fed.got("ned@nyc.example")][-1] == "<m3@philly>"


async def test_a_cycle_of_three_nodes_gives_each_list_the_post_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    shorts = ("a", "b", "c")
    async with federation(tmp_path, smarthost, *shorts) as fed:
        addresses = {s: f"coc@{domain_of(s)}" for s in shorts}
        for s in shorts:
            fed.make_list(addresses[s], Policy.MEMBERS, [f"m@{s}.example"])
        for s, nxt in zip(shorts, ("b", "c", "a"), strict=True):
            fed.set_routes(
                s,
                {
                    "name": f"to-{nxt}",
                    "from": addresses[s],
                    "to": [addresses[nxt]],
                    "match": {"any": True},
                },
            )
        await fed["a"].send(
            post("Round", to=addresses["a"], sender="m@a.example"),
            addresses["a"],
            mail_from="m@a.example",
        )
        await fed.idle()
        for s in shorts:
            assert [m["Message-ID"] for m in fed.got(f"m@{s}.example")] == ["<m1@example.net>"]
        # c's copy carries both hops, oldest first; c does not send it back to a
        got_c = fed.got("m@c.example")[0]
        assert got_c.get_all("X-Listfed-Trace") == [
            f"{node_name('a')} {addresses['a']}",
            f"{node_name('b')} {addresses['b']}",
        ]
        assert [r[:3] for r in fed.ledger("c")] == [("in", "", addresses["b"])]


def _forged(
    subject: str, body: str, *, secret: str, when: int | None = None, tamper: bool = False
) -> bytes:
    """A relay as philly would send it to nyc, signed with `secret` at `when`."""
    hop = f"{node_name('philly')} {ACTIONS}"
    when = int(time.time()) if when is None else when
    body_bytes = body.encode()
    value = signing.sign(secret, node_name("philly"), when, "f1@philly", [hop], body_bytes)
    if tamper:
        body_bytes = body_bytes.replace(b"10", b"99")
    head = (
        f"From: Mallory <mallory@evil.example>\r\nTo: {COC_NYC}\r\nSubject: {subject}\r\n"
        f"Message-ID: <f1@philly>\r\nX-Listfed-Trace: {hop}\r\nX-Listfed-Signature: {value}\r\n"
    )
    return head.encode() + b"\r\n" + body_bytes


@pytest.mark.parametrize(
    ("case", "secret", "age", "tamper"),
    [
        ("valid", "GOOD", 0, False),
        ("tampered body", "GOOD", 0, True),
        ("wrong secret", "not-the-secret", 0, False),
        ("replayed after 8 days", "GOOD", 8 * 86400, False),
        ("from the future", "GOOD", -3600, False),
    ],
)
async def test_only_a_valid_fresh_signature_passes_a_members_only_list(
    tmp_path: Path, smarthost: RecordingSmarthost, case: str, secret: str, age: int, tamper: bool
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        key = secret_for("philly", "nyc") if secret == "GOOD" else secret
        raw = _forged(
            "[national] Send 10 people",
            "Send 10 people.\r\n",
            secret=key,
            when=int(time.time()) - age,
            tamper=tamper,
        )
        await fed["nyc"].send(raw, COC_NYC, mail_from="actions-bounces@lists.philly.example")
        await fed.idle()
        with fed["nyc"].node.db.read() as s:
            reasons = [h.reason for h in s.exec(select(Held)).all()]
        if case == "valid":
            assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == ["<f1@philly>"]
            assert reasons == []
        else:
            assert fed.got("ned@nyc.example") == []
            assert reasons == ["mallory@evil.example is not a member of " + COC_NYC]


async def test_a_relay_target_that_is_down_gets_the_relay_later(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", NATIONAL)
        await fed.stop_node("nyc")
        await fed["philly"].send(
            post("[national] While you were out", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        for _ in range(200):  # until philly has tried and deferred the relay
            await asyncio.sleep(0.05)
            ledger = fed.ledger("philly")
            if ledger and ledger[0][4].startswith("retrying"):
                break
        assert ledger[0][4].startswith("retrying: peer 127.0.0.1")
        assert fed.got("ned@nyc.example") == []
        await fed.start_node("nyc")
        await fed.idle()
        assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == ["<m1@example.net>"]
        assert fed.ledger("philly")[0][4] == "sent"


async def test_a_route_to_a_list_on_the_same_node_goes_straight_to_its_pipeline(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly") as fed:
        housing = f"housing@{domain_of('philly')}"
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(housing, Policy.MEMBERS, ["hal@philly.example"])
        fed.set_routes(
            "philly",
            {
                "name": "h",
                "from": ACTIONS,
                "to": [housing],
                "match": {"sender": "*@philly.example"},
            },
        )
        await fed["philly"].send(
            post("Rent strike", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        got = fed.got("hal@philly.example")
        assert [m["Subject"] for m in got] == ["[housing] Rent strike"]
        assert got[0].get_all("X-Listfed-Trace") == [f"{node_name('philly')} {ACTIONS}"]
        assert "X-Listfed-Signature" not in got[0]
        assert [r[0] for r in fed.ledger("philly")] == ["out", "in"]
        assert fed.ledger("philly")[0][4] == "queued locally"


async def test_forward_no_stops_the_post_at_the_next_node(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc", "atl") as fed:
        coc_atl = f"coc@{domain_of('atl')}"
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.make_list(coc_atl, Policy.MEMBERS, ["ada@atl.example"])
        fed.set_routes("philly", {**NATIONAL, "forward": False})
        fed.set_routes(
            "nyc", {"name": "on", "from": COC_NYC, "to": [coc_atl], "match": {"any": True}}
        )
        await fed["philly"].send(
            post("[national] Only nyc", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        got = fed.got("ned@nyc.example")
        assert got[0].get_all("X-Listfed-Trace") == [f"{node_name('philly')} {ACTIONS}; forward=no"]
        assert fed.got("ada@atl.example") == []


async def test_a_route_from_a_list_that_does_not_exist_is_logged_on_reload(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    async with federation(tmp_path, smarthost, "philly") as fed:
        fed.set_routes("philly", NATIONAL)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if any("relays nothing" in r.getMessage() for r in caplog.records):
                break
        warnings = [r.getMessage() for r in caplog.records if "relays nothing" in r.getMessage()]
        assert set(warnings) == {
            f"route national: the list {ACTIONS} does not exist here "
            f"(`listfed lists create {ACTIONS}` makes it); it relays nothing until that is fixed"
        }
