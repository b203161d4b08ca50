"""A post's life over real SMTP: intake, policy, hold, archive, delivery with headers."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import select

from listfed.db import compressed
from listfed.db.compressed import unpack_message
from listfed.db.models import ArchivedMessage, Held, Member, OutboxEntry, QueueItem
from listfed.listinfo import Policy
from listfed.ops import held
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world

TEAM = f"team@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net", "carol@example.com"]


async def test_every_member_receives_once_with_list_headers(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(subject="Meeting tonight"), TEAM)
    await world.idle()
    assert world.smarthost is not None
    got = world.smarthost.deliveries()
    assert sorted(r for r, _ in got) == sorted(PEOPLE)
    _, first = got[0]
    assert first.mail_from == f"team-bounces@{DOMAIN}"
    msg = first.message
    assert msg["List-Id"] == f"<team.{DOMAIN}>"
    assert msg["List-Post"] == f"<mailto:team@{DOMAIN}>"
    assert f"team-request@{DOMAIN}" in msg["List-Help"]
    assert msg["List-Subscribe"] and msg["List-Unsubscribe"]
    assert msg["Precedence"] == "list"
    assert msg["Subject"] == "[team] Meeting tonight"
    assert msg["Message-ID"] == "<m1@example.net>"
    # one SMTP transaction carried all three recipients
    assert len(world.smarthost.received) == 1


async def test_a_post_without_date_or_message_id_is_delivered_with_both(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    bare = b"From: alice@example.net\r\nSubject: hello\r\n\r\nFirst post.\r\n"  # README's
    before = time.time()
    await world.send(bare, TEAM)
    await world.idle()
    assert world.smarthost is not None
    msgs = [m.message for _r, m in world.smarthost.deliveries()]
    assert len(msgs) == 3
    dates = {str(m["Date"]) for m in msgs}
    assert len(dates) == 1  # the same Date on every copy: the post's arrival
    when = parsedate_to_datetime(dates.pop()).timestamp()
    assert before - 1 <= when <= time.time()
    assert len({str(m["Message-ID"]) for m in msgs}) == 1 and msgs[0]["Message-ID"]
    with world.node.db.read() as s:
        row = s.exec(select(ArchivedMessage)).one()
    stored = unpack_message(row.raw, row.body_text)
    assert b"\r\nDate: " in stored or stored.startswith(b"Date: ")


async def test_post_is_archived_with_its_fields(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(subject="Minutes", body="The minutes are attached.\n"), TEAM)
    await world.idle()
    with world.node.db.read() as s:
        row = s.exec(select(ArchivedMessage)).one()
    assert (row.message_id, row.sender, row.subject) == (
        "m1@example.net",
        "alice@example.net",
        "Minutes",
    )
    assert "minutes are attached" in compressed.text_of(row.body_text)  # packed (v19)
    assert b"Subject: Minutes" in unpack_message(
        row.raw, row.body_text
    )  # the bytes as received, undecorated


async def test_reply_keeps_a_single_prefix(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(subject="Re: [team] Meeting tonight", message_id="<r1@x>"), TEAM)
    await world.idle()
    assert world.smarthost is not None
    assert world.smarthost.received[0].message["Subject"] == "Re: [team] Meeting tonight"


async def test_nonmember_post_is_held_then_approved_and_delivered(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    await world.send(
        post(sender="mallory@elsewhere.example"), TEAM, mail_from="mallory@elsewhere.example"
    )
    await world.idle()
    assert world.smarthost is not None
    assert world.smarthost.received == []
    with world.node.db.read() as s:
        row = s.exec(select(Held)).one()
    assert "not a member" in row.reason and row.sender == "mallory@elsewhere.example"
    with world.node.db.write() as s:
        held.approve(s, row.id or 0)
    world.node.dispatcher.wake.set()
    await world.idle()
    assert sorted(r for r, _ in world.smarthost.deliveries()) == sorted(PEOPLE)
    with world.node.db.read() as s:
        assert s.exec(select(Held)).all() == []


async def test_nonmember_reject_tells_the_sender(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE, nonmember_action="reject")
    await world.send(post(sender="eve@elsewhere.example"), TEAM, mail_from="eve@elsewhere.example")
    await world.idle()
    assert world.smarthost is not None
    [(rcpt, notice)] = world.smarthost.deliveries()
    assert rcpt == "eve@elsewhere.example"
    assert "not a member" in notice.message.get_content()
    assert notice.message["Auto-Submitted"] == "auto-replied"


async def test_nonmember_discard_is_silent(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE, nonmember_action="discard")
    await world.send(post(sender="eve@elsewhere.example"), TEAM, mail_from="eve@elsewhere.example")
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []
    with world.node.db.read() as s:
        assert s.exec(select(Held)).all() == []


@pytest.mark.parametrize(
    ("policy", "sender", "delivered"),
    [
        (Policy.OPEN, "stranger@elsewhere.example", True),
        (Policy.MODERATED, "alice@example.net", False),
        (Policy.ANNOUNCE, "alice@example.net", False),
    ],
)
async def test_policies(world: World, policy: Policy, sender: str, delivered: bool) -> None:
    world.make_list(TEAM, policy, people=PEOPLE)
    await world.send(post(sender=sender), TEAM, mail_from=sender)
    await world.idle()
    assert world.smarthost is not None
    posts = [r for r in world.smarthost.received if r.message["List-Post"]]  # not notices
    assert bool(posts) is delivered
    with world.node.db.read() as s:
        assert bool(s.exec(select(Held)).all()) is not delivered


async def test_announce_list_accepts_its_owner(world: World) -> None:
    world.make_list(TEAM, Policy.ANNOUNCE, people=PEOPLE)
    with world.node.db.write() as s:
        from listfed.ops import members

        members.set_value(s, TEAM, "alice@example.net", "role", "owner")
    await world.send(post(), TEAM)
    await world.idle()
    assert world.smarthost is not None and len(world.smarthost.deliveries()) == 3


async def test_unknown_address_and_foreign_domain_refused_at_rcpt(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    client = aiosmtplib.SMTP(hostname=world.host, port=world.port, start_tls=False)
    await client.connect()
    await client.ehlo()
    await client.mail("alice@example.net")
    unknown = await client.execute_command(f"RCPT TO:<nobody@{DOMAIN}>".encode())
    foreign = await client.execute_command(b"RCPT TO:<someone@gmail.example>")
    request = await client.execute_command(f"RCPT TO:<team-request@{DOMAIN}>".encode())
    confirm = await client.execute_command(f"RCPT TO:<team-confirm+abc123@{DOMAIN}>".encode())
    await client.quit()
    assert (unknown.code, unknown.message[:5]) == (550, "5.1.1")
    assert (foreign.code, foreign.message[:5]) == (550, "5.7.1")
    assert request.code == 250 and confirm.code == 250


async def test_oversized_refused_at_mail_from_and_after_data(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, smtp={"max_message_size": "2KB"}) as w:
        w.make_list(TEAM, Policy.OPEN)
        client = aiosmtplib.SMTP(hostname=w.host, port=w.port, start_tls=False)
        await client.connect()
        await client.ehlo()
        with pytest.raises(aiosmtplib.SMTPResponseException) as at_mail:
            await client.mail("alice@example.net", options=["SIZE=999999"])
        assert at_mail.value.code == 552
        await client.rset()
        await client.mail("alice@example.net")
        await client.rcpt(TEAM)
        with pytest.raises(aiosmtplib.SMTPResponseException) as at_data:
            await client.data(post(body="x" * 70 + "\r\n") * 80)
        assert at_data.value.code == 552
        await client.quit()
        with w.node.db.read() as s:
            assert s.exec(select(QueueItem)).all() == []


async def test_storage_failure_answers_451_and_stores_nothing(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, storage={"busy_timeout": "0.2s"}) as w:
        w.make_list(TEAM, people=PEOPLE)
        # Another process holds the write lock: the node cannot commit the message.
        blocker = sqlite3.connect(w.node.db.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(aiosmtplib.SMTPResponseException) as exc:
            await w.send(post(), TEAM)
        assert exc.value.code == 451
        blocker.execute("ROLLBACK")
        blocker.close()
        with w.node.db.read() as s:
            assert s.exec(select(QueueItem)).all() == []
        await w.send(post(), TEAM)  # the sender's retry goes through
        await w.idle()
        assert len(smarthost.deliveries()) == 3


async def test_smarthost_4xx_for_a_while_then_delivered(world: World) -> None:
    assert world.smarthost is not None
    refusals = {"bob@example.net": 2}

    def reply(address: str) -> str | None:
        if refusals.get(address, 0) > 0:
            refusals[address] -= 1
            return "451 4.3.0 try later"
        return None

    world.smarthost.rcpt_reply = reply
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(), TEAM)
    await world.idle(timeout=20)
    got = sorted(r for r, _ in world.smarthost.deliveries())
    assert got == sorted(PEOPLE)  # bob too, exactly once, after two refusals


async def test_5xx_for_one_recipient_does_not_stop_the_others(world: World) -> None:
    assert world.smarthost is not None
    world.smarthost.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith("bob") else None
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(), TEAM)
    await world.idle()
    assert sorted(r for r, _ in world.smarthost.deliveries()) == [
        "alice@example.net",
        "carol@example.com",
    ]
    with world.node.db.read() as s:
        failed = s.exec(select(OutboxEntry).where(OutboxEntry.state == "failed")).one()
        bob = s.exec(select(Member).where(Member.address == "bob@example.net")).one()
    assert failed.address == "bob@example.net" and "550" in failed.last_error
    assert "550" in bob.last_failure


async def test_duplicate_message_id_is_dropped(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(), TEAM)
    await world.idle()
    await world.send(post(subject="same id again"), TEAM)
    await world.idle()
    assert world.smarthost is not None
    assert len(world.smarthost.deliveries()) == 3


async def test_trace_naming_this_list_is_dropped(world: World) -> None:
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    looped = post(extra=f"X-Listfed-Trace: node.example.org team@{DOMAIN}\r\n")
    too_far = post(
        message_id="<far@x>",
        extra="".join(f"X-Listfed-Trace: n{i}.example team@n{i}.example\r\n" for i in range(9)),
    )
    await world.send(looped, TEAM)
    await world.send(too_far, TEAM)
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []
    with world.node.db.read() as s:
        assert s.exec(select(QueueItem)).all() == [] and s.exec(select(Held)).all() == []


async def test_only_regular_enabled_members_get_posts(world: World) -> None:
    world.make_list(TEAM, people=[*PEOPLE, "dana@example.net", "erin@example.net"])
    with world.node.db.write() as s:
        from listfed.ops import members

        members.set_value(s, TEAM, "carol@example.com", "delivery", "nomail")
        members.set_value(s, TEAM, "dana@example.net", "delivery", "digest")
        members.set_value(s, TEAM, "erin@example.net", "delivery_disabled", "true")
    await world.send(post(), TEAM)
    await world.idle()
    assert world.smarthost is not None
    assert sorted(r for r, _ in world.smarthost.deliveries()) == [
        "alice@example.net",
        "bob@example.net",
    ]


async def test_footer_reaches_members_once(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE, footer="--\\nteam mailing list")
    await world.send(post(body="Agenda below.\r\n"), TEAM)
    await world.idle()
    assert world.smarthost is not None
    text = world.smarthost.received[0].message.get_content()
    assert text.count("team mailing list") == 1 and text.index("Agenda") < text.index("team")


async def test_held_reject_tells_the_poster_with_the_reason(world: World) -> None:
    world.make_list(TEAM, Policy.MODERATED, people=PEOPLE)
    await world.send(post(subject="Buy now"), TEAM)
    await world.idle()
    assert world.smarthost is not None
    world.smarthost.received.clear()  # the "awaits approval" note to alice, a member
    with world.node.db.write() as s:
        row = s.exec(select(Held)).one()
        held.reject(s, row.id or 0, "off topic")
    world.node.deliverer.wake.set()
    await world.idle()
    [(rcpt, notice)] = world.smarthost.deliveries()
    assert rcpt == "alice@example.net"
    assert "off topic" in notice.message.get_content()


async def test_queue_shows_failures_and_retry_redelivers(world: World) -> None:
    from listfed.db.engine import sqlite_of
    from listfed.ops import listings, queue

    assert world.smarthost is not None
    world.smarthost.rcpt_reply = lambda a: "550 5.2.2 mailbox full" if a.startswith("bob") else None
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(), TEAM)
    await world.idle()
    with world.node.db.read() as s:
        entries = {e["id"][0] + e["state"]: e for e in listings.queue(sqlite_of(s))}
    assert entries["dfailed"]["recipients"] == ["bob@example.net"]
    assert "mailbox full" in entries["dfailed"]["last_error"]
    world.smarthost.rcpt_reply = lambda a: None
    with world.node.db.write() as s:
        assert queue.retry(s, entries["dfailed"]["id"]) == 1
    world.node.deliverer.wake.set()
    await world.idle()
    assert sorted(r for r, _ in world.smarthost.deliveries()) == sorted(PEOPLE)


async def test_post_over_the_list_size_limit_is_held_with_the_reason(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE, max_message_size="1KB")
    await world.send(post(body="long line of text\r\n" * 100), TEAM)
    await world.idle()
    assert world.smarthost is not None
    assert [r.message["Subject"] for r in world.smarthost.received] == [
        "Your message to team@lists.example.org awaits moderator approval"
    ]
    with world.node.db.read() as s:
        row = s.exec(select(Held)).one()
    assert "over this list's limit of 1024" in row.reason


async def test_fresh_install_delivers_into_the_maildir(tmp_path: Path) -> None:
    from listfed.ops.node import prepare
    from listfed.service import Node
    from tests.conftest import make_config

    config = make_config(tmp_path, None)  # the default smarthost: maildir:var/outbox
    prepare(config)
    node = Node(config)
    host, port = await node.start()
    try:
        w = World(node, host, port, None)
        w.make_list(TEAM, people=PEOPLE)
        await w.send(post(), TEAM)
        await w.idle()
    finally:
        await node.stop(grace=1)
    files = sorted((tmp_path / "var" / "outbox" / "new").iterdir())
    assert len(files) == 3
    texts = [f.read_bytes() for f in files]
    assert sorted(t.split(b"\n")[1] for t in texts) == sorted(
        f"Delivered-To: {p}".encode() for p in PEOPLE
    )
    assert all(t.startswith(f"Return-Path: <team-bounces@{DOMAIN}>".encode()) for t in texts)
    assert all(b"List-Id: <team." in t for t in texts)


async def test_auto_submitted_nonmember_is_rejected_without_a_notice(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE, nonmember_action="reject")
    vacation = post(sender="eve@elsewhere.example", extra="Auto-Submitted: auto-replied\r\n")
    await world.send(vacation, TEAM, mail_from="eve@elsewhere.example")
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []


async def test_a_message_that_breaks_the_pipeline_fails_alone_then_is_set_aside(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listfed import pipeline
    from listfed.dispatch import MAX_ATTEMPTS

    def explode(ctx, post):  # a bug that only this message triggers
        if post.message.subject == "poison":
            raise RuntimeError("boom")
        return None

    monkeypatch.setattr(pipeline, "RULES", [("explode", explode), *pipeline.RULES])
    leap = itertools.count(10**12, 1000)
    world.node.dispatcher.clock = lambda: float(next(leap))  # every retry pause has passed
    world.node.deliverer.clock = world.node.dispatcher.clock  # one clock for the whole node
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    await world.send(post(subject="poison", message_id="<p@x>"), TEAM)
    await world.send(post(subject="fine", message_id="<f@x>"), TEAM)
    for _ in range(MAX_ATTEMPTS):
        world.node.dispatcher.wake.set()
        await asyncio.sleep(0.1)
    await world.idle()
    assert world.smarthost is not None
    assert {m.message["Subject"] for m in world.smarthost.received} == {"[team] fine"}
    with world.node.db.read() as s:
        bad = s.exec(select(QueueItem)).one()
    assert (bad.state, bad.attempts, bad.message_id) == ("bad", MAX_ATTEMPTS, "p@x")
    assert "boom" in bad.last_error


async def test_a_later_post_is_not_mistaken_for_an_earlier_one(world: World) -> None:
    """Once the outbox has drained, the next post must reach members with its own text."""
    world.make_list(TEAM, people=PEOPLE[:1])
    await world.send(post(subject="First", body="one\n", message_id="<a1@x>"), TEAM)
    await world.idle()
    await world.send(post(subject="Second", body="two\n", message_id="<a2@x>"), TEAM)
    await world.idle()
    assert world.smarthost is not None
    subjects = [m.message["Subject"] for _, m in world.smarthost.deliveries()]
    assert subjects == ["[team] First", "[team] Second"]


async def test_one_list_that_cannot_be_read_does_not_stop_the_others(world: World) -> None:
    from sqlalchemy import text

    world.make_list(f"broken@{DOMAIN}", Policy.OPEN, people=["bob@example.net"])
    world.make_list(f"fine@{DOMAIN}", Policy.OPEN, people=["bob@example.net"])
    with world.write() as s:  # e.g. a value written by a later version, or by hand
        s.connection().execute(text("UPDATE mlist SET policy = 'bogus' WHERE local = 'broken'"))
    await world.send(post(to=f"broken@{DOMAIN}", message_id="<a@x>"), f"broken@{DOMAIN}")
    await world.send(post(to=f"fine@{DOMAIN}", message_id="<b@x>"), f"fine@{DOMAIN}")
    for _ in range(100):
        await asyncio.sleep(0.05)
        assert world.smarthost is not None
        if world.smarthost.received:
            break
    assert [m.message["Message-ID"] for m in world.smarthost.received] == ["<b@x>"]
