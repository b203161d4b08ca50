"""Committees of correspondence: routes between lists on two and three nodes over
loopback SMTP, with signed traces, thread following, loops and forged relays."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from listfed.archive import show
from listfed.archive.export import export_mbox
from listfed.cli.app import app
from listfed.db import compressed
from listfed.db.engine import sqlite_of
from listfed.db.models import Held
from listfed.digests import collect
from listfed.federation import signing
from listfed.listinfo import DeliveryMode, Policy, Role
from listfed.mail.rawmail import RawMessage
from listfed.ops import archive as archive_ops
from listfed.ops import members, metrics
from tests.conftest import RecordingSmarthost, World, post
from tests.federation import domain_of, federation, node_name, secret_for, spec_v1

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
        # /metrics counts relays by direction, route and the far list's domain (the peer)
        assert relays_counted(fed["philly"]) == {("out", "national", domain_of("nyc")): 1}
        assert relays_counted(fed["nyc"]) == {("in", "", domain_of("philly")): 1}


def relays_counted(world: World) -> dict[tuple[str, ...], float]:
    database = world.node.config.node.data_dir / "listfed.db"
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        families = metrics.collect(conn, database, time.time(), 0)
    finally:
        conn.close()
    [relays] = [f for f in families if f.name == "listfed_relays_total"]
    return {tuple(v for _k, v in s.labels): s.value for s in relays.samples}


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


async def test_route_tags_do_not_pile_up_as_a_thread_goes_back_and_forth(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """Each node takes out the tags its own routes and lists put on a subject when the
    thread comes home; the author's words (the [national] tag) and where a post came
    from (the other side's route tag) stay; nothing grows, however long the thread."""
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", NATIONAL)
        fed.set_routes("nyc", {**BACK, "prefix": "[nyc]"})
        first = post("[national] Strike fund", to=ACTIONS, sender="ann@philly.example")
        await fed["philly"].send(first, ACTIONS, mail_from="ann@philly.example")
        await fed.idle()
        seen = fed.got("ned@nyc.example")[-1]["Subject"]
        assert seen == "[coc] [philly] [national] Strike fund"
        refs = ["<m1@example.net>"]

        async def reply(node: str, lst: str, who: str, subject: str, mid: str) -> None:
            head = f"In-Reply-To: {refs[-1]}\r\nReferences: {' '.join(refs)}\r\n"
            raw = post(f"Re: {subject}", to=lst, sender=who, message_id=mid, extra=head)
            await fed[node].send(raw, lst, mail_from=who)
            await fed.idle()
            refs.append(mid)

        for turn in range(3):  # ned answers, ann answers, as mail programs write it
            await reply("nyc", COC_NYC, "ned@nyc.example", seen, f"<r{turn}@nyc.example>")
            home = fed.got("ann@philly.example")[-1]
            assert home["Message-ID"] == refs[-1]
            assert home["Subject"] == "[actions] [nyc] [national] Re: Strike fund"
            await reply("philly", ACTIONS, "ann@philly.example", home["Subject"], f"<a{turn}@p>")
            there = fed.got("ned@nyc.example")[-1]
            assert there["Message-ID"] == refs[-1]
            seen = there["Subject"]
            assert seen == "[coc] [philly] [national] Re: Strike fund"


async def test_a_secret_rotates_without_dropping_a_relay(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 23: `secret` may be a list, the new one first (it signs), any verifies; both
    sides switch in their own time, and a relay in flight is never refused for it."""
    old, new = secret_for("nyc", "philly"), "a-new-secret-for-nyc-and-philly"
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        sent = 0

        async def relay(config: dict[tuple[str, str], str | list[str]]) -> bool:
            """Post on philly with these peer secrets; did nyc take the relay?"""
            nonlocal sent
            fed.secrets.clear()
            fed.secrets.update(config)
            fed.set_routes("philly", NATIONAL)
            fed.set_routes("nyc")
            sent += 1
            raw = post(
                f"[national] Step {sent}",
                to=ACTIONS,
                sender="ann@philly.example",
                message_id=f"<step{sent}@x>",
            )
            await fed["philly"].send(raw, ACTIONS, mail_from="ann@philly.example")
            await fed.idle()
            return any(m["Message-ID"] == f"<step{sent}@x>" for m in fed.got("ned@nyc.example"))

        # nyc accepts the new secret beside the old; philly still signs with the old
        assert await relay({("nyc", "philly"): [new, old]})
        # philly switches: the new one signs (nyc has both)
        assert await relay({("nyc", "philly"): [new, old], ("philly", "nyc"): [new, old]})
        # the overlap is over: only the new one on either side
        assert await relay({("nyc", "philly"): [new], ("philly", "nyc"): [new]})
        # a relay signed with the retired secret is an ordinary post now, and nyc says why
        caplog.set_level(logging.WARNING, logger="listfed.federation")
        assert not await relay({("nyc", "philly"): [new], ("philly", "nyc"): [old]})
        said = [
            r.getMessage() for r in caplog.records if "relay signature refused" in r.getMessage()
        ]
        assert said and "the signature does not match the message" in said[-1]


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


FORGER = "Mallory <mallory@evil.example>"
PLAIN = "text/plain; charset=us-ascii"


def _forged(
    subject: str,
    body: str,
    *,
    secret: str,
    when: int | None = None,
    tamper: bool = False,
    target: str = COC_NYC,
    version: int = 2,
) -> bytes:
    """A relay as philly would send it to `target`, signed with `secret` at `when`."""
    hop = f"{node_name('philly')} {ACTIONS}"
    when = int(time.time()) if when is None else when
    body_bytes = body.encode()
    if version == 1:
        mac = spec_v1(secret, node_name("philly"), when, "f1@philly", [hop], body_bytes)
        value = f"v=1; n={node_name('philly')}; t={when}; s={mac}"
    else:
        fields = (FORGER, subject, PLAIN)
        covered = signing.Covered("f1@philly", [hop], body_bytes, target, fields)
        value = signing.sign(secret, node_name("philly"), when, covered)
    if tamper:
        body_bytes = body_bytes.replace(b"10", b"99")
    head = (
        f"From: {FORGER}\r\nTo: {target}\r\nSubject: {subject}\r\n"
        f"Content-Type: {PLAIN}\r\nMessage-ID: <f1@philly>\r\n"
        f"X-Listfed-Trace: {hop}\r\nX-Listfed-Signature: {value}\r\n"
    )
    return head.encode() + b"\r\n" + body_bytes


def _held(world: World) -> list[str]:
    with world.node.db.read() as s:
        return [h.reason for h in s.exec(select(Held)).all()]


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
        if case == "valid":
            assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == ["<f1@philly>"]
            assert _held(fed["nyc"]) == []
        else:
            assert fed.got("ned@nyc.example") == []
            [reason] = _held(fed["nyc"])
            assert reason.startswith("relay signature refused (the signature ")
            assert reason.endswith(
                "); as an ordinary post, mallory@evil.example is not a member of " + COC_NYC
            )


async def test_held_show_says_a_relay_was_held_because_its_signature_was_refused(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        raw = _forged("[national] Plans", "Send 10.\r\n", secret=secret_for("philly", "nyc"))
        raw = raw.replace(b"Send 10", b"Send 99")  # changed on the way: the signature fails
        await fed["nyc"].send(raw, COC_NYC, mail_from="actions-bounces@lists.philly.example")
        await fed.idle()
        # the admin of the New York node asks why, with the command line
        config = tmp_path / "nyc" / "listfed.toml"
        config.write_text(
            f'[node]\nname = "{node_name("nyc")}"\ndomains = ["{domain_of("nyc")}"]\n'
        )
        listed = CliRunner().invoke(app, ["--config", str(config), "held", "ls", "--json"])
        [held] = json.loads(listed.stdout)
        shown = CliRunner().invoke(app, ["--config", str(config), "held", "show", str(held["id"])])
    assert shown.exit_code == 0, shown.output
    reason = next(line for line in shown.stdout.splitlines() if line.startswith("reason: "))
    assert reason == (
        "reason: relay signature refused (the signature does not match the message); "
        f"as an ordinary post, mallory@evil.example is not a member of {COC_NYC}"
    )


PLANS_NYC = f"plans@{domain_of('nyc')}"


@pytest.mark.parametrize(
    ("case", "rcpt", "old", "new"),
    [
        ("as signed", COC_NYC, "", ""),
        ("resent to another list of the node", PLANS_NYC, "", ""),
        ("another From", COC_NYC, FORGER, "Mallory <mal@evil.example>"),
        ("another Subject", COC_NYC, "Subject: [national]", "Subject: [national] Urgent:"),
        ("another Content-Type", COC_NYC, PLAIN, "text/html; charset=us-ascii"),
        ("a second Subject", COC_NYC, "Subject:", "Subject: Pay here\r\nSubject:"),
    ],
)
async def test_a_v2_signature_holds_only_for_its_list_from_subject_and_content_type(
    tmp_path: Path, smarthost: RecordingSmarthost, case: str, rcpt: str, old: str, new: str
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.make_list(PLANS_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        raw = _forged("[national] Plans", "Plans.\r\n", secret=secret_for("philly", "nyc"))
        head, _, body = raw.partition(b"\r\n\r\n")
        if old:
            assert old.encode() in head
            raw = head.replace(old.encode(), new.encode(), 1) + b"\r\n\r\n" + body
        await fed["nyc"].send(raw, rcpt, mail_from="actions-bounces@lists.philly.example")
        await fed.idle()
        if case == "as signed":
            assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == ["<f1@philly>"]
            assert _held(fed["nyc"]) == []
        else:  # an ordinary post from its sender, whom a members-only list holds
            assert fed.got("ned@nyc.example") == []
            sender = "mal@evil.example" if case == "another From" else "mallory@evil.example"
            [reason] = _held(fed["nyc"])
            assert reason.startswith("relay signature refused (")
            assert reason.endswith(f"as an ordinary post, {sender} is not a member of {rcpt}")


@pytest.mark.parametrize("accept", [True, False])
async def test_a_v1_signature_passes_only_while_the_node_accepts_v1(
    tmp_path: Path, smarthost: RecordingSmarthost, caplog: pytest.LogCaptureFixture, accept: bool
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.configure("nyc", accept_v1_signatures=accept)  # applied live, as by SIGHUP
        assert fed["nyc"].node.dispatcher.node.accept_v1_signatures is accept
        raw = _forged(
            "[national] Plans", "Plans.\r\n", secret=secret_for("philly", "nyc"), version=1
        )
        with caplog.at_level(logging.WARNING, logger="listfed.federation"):
            await fed["nyc"].send(raw, COC_NYC, mail_from="actions-bounces@lists.philly.example")
            await fed.idle()
        if accept:
            assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == ["<f1@philly>"]
            assert _held(fed["nyc"]) == []
        else:
            assert fed.got("ned@nyc.example") == []
            assert _held(fed["nyc"]) == [
                f"relay signature refused ({signing.V1_REFUSED}); as an ordinary post, "
                f"mallory@evil.example is not a member of {COC_NYC}"
            ]
            refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
            assert len(refused) == 1 and "accept_v1_signatures = false" in refused[0], refused


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


@pytest.mark.parametrize("sign_v1", [True, False])
async def test_a_node_that_refuses_v1_takes_a_relay_by_its_v2_signature(
    tmp_path: Path, smarthost: RecordingSmarthost, sign_v1: bool
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.configure("philly", sign_v1=sign_v1)
        fed.configure("nyc", accept_v1_signatures=False)
        fed.set_routes("philly", NATIONAL)
        await fed["philly"].send(
            post("[national] Day of action", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        assert [m["Message-ID"] for m in fed.got("ned@nyc.example")] == ["<m1@example.net>"]
        assert _held(fed["nyc"]) == []


async def test_a_relay_reaches_members_digests_and_archive_readers_without_its_signature(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        nyc = fed["nyc"]
        with nyc.write() as s:
            members.add(s, COC_NYC, ["dana@nyc.example"], Role.MEMBER, DeliveryMode.DIGEST)
        fed.set_routes("philly", NATIONAL)
        await fed["philly"].send(
            post("[national] Day of action", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        with nyc.write() as s:
            collect.send_pending(s, COC_NYC, time.time())
        nyc.node.deliverer.wake.set()
        await fed.idle()
        with nyc.node.db.read() as s:
            conn = sqlite_of(s)
            list_id = archive_ops.list_id(conn, COC_NYC)
            row = conn.execute(
                "SELECT raw, body_text FROM archive WHERE list_id = ?", (list_id,)
            ).fetchone()
            stored = compressed.unpack_message(row[0], row[1])
            shown = show.load(conn, list_id, "m1@example.net")
            assert export_mbox(conn, list_id, tmp_path / "coc.mbox") == 1
    # it came signed for this list (a trusted relay), and the archive keeps it as it came:
    # v=1 and v=2 ([node] sign_v1, on by default), only those of this hop
    assert b"\r\nX-Listfed-Signature: v=1; n=philly.example; t=" in stored
    assert b"\r\nX-Listfed-Signature: v=2; n=philly.example; t=" in stored
    assert stored.lower().count(b"x-listfed-signature") == 2
    assert fed.ledger("nyc") == [("in", "", ACTIONS, "m1@example.net", "received")]

    def fields(raw: bytes) -> list[tuple[str, bytes]]:
        return RawMessage.parse(raw).fields

    # what people read has everything but the signature
    assert fields(shown.raw) == [f for f in fields(stored) if f[0] != "X-Listfed-Signature"]
    assert shown.raw.partition(b"\r\n\r\n")[2] == stored.partition(b"\r\n\r\n")[2]
    assert shown.raw in (tmp_path / "coc.mbox").read_bytes()
    [copy] = [m.data for r, m in smarthost.deliveries() if r == "ned@nyc.example"]
    [digest] = [m.data for r, m in smarthost.deliveries() if r == "dana@nyc.example"]
    assert b"Day of action" in digest
    assert b"X-Listfed-Trace: philly.example actions@lists.philly.example" in copy
    for raw in (shown.raw, (tmp_path / "coc.mbox").read_bytes(), copy, digest):
        assert b"listfed-signature" not in raw.lower()
