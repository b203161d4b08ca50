"""Intake stores a message once per transaction, whatever its recipients (issue 22):
real SMTP/LMTP to a real node, and the database looked at directly."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import text
from sqlmodel import select

from listfed import pipeline
from listfed.db.models import Held, QueueItem
from listfed.dispatch import MAX_ATTEMPTS
from listfed.listinfo import Policy, Role
from listfed.migrations import upgrade
from listfed.ops import held, lists, members
from listfed.ops import queue as queue_ops
from listfed.recipients import summary
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world
from tests.test_intake import Dialogue

TEAM = f"team@{DOMAIN}"
OTHER = f"other@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net"]
QUIET = "Auto-Submitted: auto-generated\r\n"  # robots answer nothing to it


def count(world: World, table: str) -> int:
    with world.node.db.read() as s:
        return int(s.connection().execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() or 0)


def db_bytes(world: World) -> int:
    with world.node.db.read() as s:
        conn = s.connection()
        pages = conn.execute(text("PRAGMA page_count")).scalar() or 0
        size = conn.execute(text("PRAGMA page_size")).scalar() or 0
    return int(pages) * int(size)


@contextmanager
def pipeline_paused(world: World) -> Iterator[None]:
    """The dispatcher takes nothing meanwhile, so a test sees what intake stored."""
    dispatcher = world.node.dispatcher
    dispatcher.process_due = lambda *_a, **_k: 0  # type: ignore[method-assign]
    try:
        yield
    finally:
        del dispatcher.process_due
        dispatcher.wake.set()


def big_post(message_id: str, size: int = 50_000) -> bytes:
    line = b"All work and no play makes a long post for many lists.\r\n"
    body = line * (size // len(line))
    return post(message_id=message_id).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + body


async def test_a_message_to_300_recipients_is_stored_once_and_reaches_each(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"wg{n}@{DOMAIN}" for n in range(100)]
    with world.write() as s:
        for n, name in enumerate(names):
            lists.create(s, name, world.node.config.node.domains, Policy.OPEN)
            if n < 10:  # a few members: enough to see the posts go out, and quick
                members.add(s, name, [f"m{n}@example.net"], Role.MEMBER)
    rcpts = [a.replace("@", suffix + "@") for a in names for suffix in ("", "-request", "-join")]
    raw = big_post("<many@example.net>")
    before = db_bytes(world)
    caplog.set_level(logging.INFO, logger="listfed")
    with pipeline_paused(world):
        await aiosmtplib.send(
            raw,
            sender="alice@example.net",
            recipients=rcpts,
            hostname=world.host,
            port=world.port,
            start_tls=False,
        )
        assert count(world, "queue") == 300
        assert count(world, "spooled") == 1
        # 300 copies would be 15 MB; one is 50 KB, with the 300 rows around it
        assert db_bytes(world) - before < 5 * len(raw)
    await world.idle(timeout=60)
    assert world.smarthost is not None
    posts = {r: m.message["Subject"] for r, m in world.smarthost.deliveries() if r[0] == "m"}
    assert posts == {f"m{n}@example.net": f"[wg{n}] Hello" for n in range(10)}
    assert count(world, "archive") == 100  # every list took the post
    robots = Counter(
        r.getMessage().split()[2].split("@")[0].split("-")[1]
        for r in caplog.records
        if r.name == "listfed.robots" and "<many@example.net>" in r.getMessage()
    )
    assert robots == {"request": 100, "join": 100}  # and every robot its mail
    assert count(world, "queue") == 0 and count(world, "spooled") == 0
    [line] = [r.getMessage() for r in caplog.records if "queued as" in r.getMessage()]
    assert "and 297 more" in line and len(line) < 400, line
    assert max(len(r.getMessage()) for r in caplog.records) < 1000


async def test_the_recipient_past_the_limit_gets_452_and_goes_in_another_transaction(
    world: World,
) -> None:
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    world.make_list(OTHER, Policy.OPEN, people=["carol@example.net"])
    raw = post(message_id="<cap@example.net>", extra=QUIET)
    d = await Dialogue.open(world.host, world.port)
    await d.say(b"EHLO client.example\r\n")
    with pipeline_paused(world):
        await d.say(b"MAIL FROM:<alice@example.net>\r\n")
        assert (await d.say(f"RCPT TO:<{TEAM}>\r\n".encode()))[0].startswith("250")
        for n in range(999):  # unknown confirmation codes: taken, answered by the robot
            reply = await d.say(f"RCPT TO:<team-confirm+code{n}@{DOMAIN}>\r\n".encode())
            assert reply[0].startswith("250"), reply
        assert await d.say(f"RCPT TO:<{OTHER}>\r\n".encode()) == ["452 4.5.3 Too many recipients"]
        assert (await d.say(b"DATA\r\n"))[0].startswith("354")
        assert (await d.say(raw + b"\r\n.\r\n"))[0].startswith("250")
        assert count(world, "queue") == 1000 and count(world, "spooled") == 1
        # the client sends the rest in a new transaction
        await d.say(b"MAIL FROM:<alice@example.net>\r\n")
        assert (await d.say(f"RCPT TO:<{OTHER}>\r\n".encode()))[0].startswith("250")
        await d.say(b"DATA\r\n")
        assert (await d.say(raw + b"\r\n.\r\n"))[0].startswith("250")
    await d.close()
    await world.idle(timeout=60)
    assert world.smarthost is not None
    assert sorted(r for r, _ in world.smarthost.deliveries()) == [
        "alice@example.net",
        "bob@example.net",
        "carol@example.net",
    ]
    assert count(world, "queue") == 0 and count(world, "spooled") == 0


async def test_a_repeated_recipient_is_accepted_and_queued_once_and_counts(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, smtp={"max_recipients": 100}) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE)
        d = await Dialogue.open(w.host, w.port)
        await d.say(b"EHLO client.example\r\n")
        await d.say(b"MAIL FROM:<alice@example.net>\r\n")
        same = [TEAM, TEAM.upper(), f"Team@{DOMAIN}"] * 33 + [TEAM]
        for rcpt in same:  # a flood of one address: 250 each, and each counts
            assert (await d.say(f"RCPT TO:<{rcpt}>\r\n".encode()))[0].startswith("250")
        assert (await d.say(f"RCPT TO:<{TEAM}>\r\n".encode()))[0].startswith("452 4.5.3")
        await d.say(b"DATA\r\n")
        assert (await d.say(post(message_id="<dup@example.net>") + b"\r\n.\r\n"))[0][:3] == "250"
        await d.close()
        assert count(w, "queue") + count(w, "archive") == 1
        await w.idle()
        assert sorted(r for r, _ in smarthost.deliveries()) == PEOPLE


async def test_lmtp_answers_each_rcpt_and_queues_a_repeated_one_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, smtp={"lmtp": True}) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE)
        w.make_list(OTHER, Policy.OPEN, people=PEOPLE)
        d = await Dialogue.open(w.host, w.port)
        await d.say(b"LHLO mta.example\r\n")
        with pipeline_paused(w):
            await d.say(b"MAIL FROM:<alice@example.net>\r\n")
            for rcpt in (TEAM, OTHER, TEAM):
                assert (await d.say(f"RCPT TO:<{rcpt}>\r\n".encode()))[0].startswith("250")
            await d.say(b"DATA\r\n")
            d.writer.write(post() + b"\r\n.\r\n")
            await d.writer.drain()
            replies = [(await d.reply())[0] for _ in range(3)]
            assert count(w, "queue") == 2 and count(w, "spooled") == 1
        await d.close()
        assert all(r.startswith("250") for r in replies), replies
        assert [r.split("<")[1].split(">")[0] for r in replies] == [TEAM, OTHER, TEAM]
        assert replies[0].split()[-1] == replies[2].split()[-1] != replies[1].split()[-1]
        await w.idle()
        assert len(smarthost.deliveries()) == 4  # two lists, two members each, once


async def test_the_bytes_stay_while_a_post_is_held_and_go_with_the_decision(
    world: World,
) -> None:
    world.make_list(TEAM, people=PEOPLE)  # members only: a stranger's post is held
    world.make_list(OTHER, Policy.OPEN, people=PEOPLE)
    raw = post(sender="stranger@example.com", message_id="<held@example.net>")
    await aiosmtplib.send(
        raw,
        sender="stranger@example.com",
        recipients=[TEAM, OTHER],
        hostname=world.host,
        port=world.port,
        start_tls=False,
    )
    await world.idle()
    assert count(world, "queue") == 0 and count(world, "held") == 1
    assert count(world, "spooled") == 1  # the held post's, shared with the delivered one
    with world.write() as s:
        [(row, _)] = held.all_held(s)
        stored = held.raw(s, row)  # as it came, under the node's Received: field
        assert stored.startswith(b"Received: from ")
        assert stored.endswith(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        assert row.id is not None
        held.approve(s, row.id)
        assert count(world, "spooled") == 1  # handed on to the new queue item, not freed
    await world.idle()
    assert count(world, "spooled") == 0 and count(world, "held") == 0
    assert world.smarthost is not None
    lists_got = sorted(m.message["List-Id"] for _, m in world.smarthost.deliveries())
    assert lists_got == [f"<other.{DOMAIN}>"] * 2 + [f"<team.{DOMAIN}>"] * 2


async def test_the_bytes_stay_while_an_item_is_bad_and_go_after_a_retry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = {"on": True}

    def explode(ctx: object, post: pipeline.Post) -> None:
        if broken["on"] and post.lst.address == TEAM:
            raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "RULES", [("explode", explode), *pipeline.RULES])
    leap = itertools.count(10**12, 1000)
    world.node.dispatcher.clock = lambda: float(next(leap))  # every retry pause has passed
    world.node.deliverer.clock = world.node.dispatcher.clock
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    world.make_list(OTHER, Policy.OPEN, people=["carol@example.net"])
    await aiosmtplib.send(
        post(message_id="<bad@example.net>"),
        sender="alice@example.net",
        recipients=[TEAM, OTHER],
        hostname=world.host,
        port=world.port,
        start_tls=False,
    )
    for _ in range(MAX_ATTEMPTS):
        world.node.dispatcher.wake.set()
        await asyncio.sleep(0.1)
    await world.idle()
    with world.node.db.read() as s:
        [bad] = s.exec(select(QueueItem)).all()
    assert bad.state == "bad" and count(world, "spooled") == 1
    broken["on"] = False
    with world.write() as s:
        assert queue_ops.retry(s, f"q{bad.id}") == 1
    world.node.dispatcher.wake.set()
    await world.idle()
    assert count(world, "queue") == 0 and count(world, "spooled") == 0
    assert world.smarthost is not None
    assert sorted(r for r, _ in world.smarthost.deliveries()) == [*PEOPLE, "carol@example.net"]


async def test_a_list_deleted_with_its_queue_and_held_posts_leaves_no_bytes(
    world: World,
) -> None:
    world.make_list(TEAM, people=PEOPLE)
    await world.send(post(sender="stranger@example.com"), TEAM, "stranger@example.com")
    await world.idle()
    with pipeline_paused(world):
        await world.send(post(message_id="<q@example.net>"), TEAM)
        assert count(world, "held") == 1 and count(world, "queue") == 1
        assert count(world, "spooled") == 2
        with world.write() as s:
            lists.delete(s, TEAM)
        assert count(world, "held") + count(world, "queue") + count(world, "spooled") == 0


def test_a_log_line_names_a_few_recipients_whatever_their_number() -> None:
    many = [f"m{n}@example.net" for n in range(10_000)]
    assert summary(many) == "m0@example.net, m1@example.net, m2@example.net and 9997 more"
    assert summary(many[:2]) == "m0@example.net, m1@example.net"
    assert Held.model_fields.get("raw") is None  # bytes live once, in `spooled`


async def test_mail_queued_and_held_before_the_upgrade_still_goes_out(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """A version 6 database with a queued post and a held one: the node upgrades it on
    start, delivers the queued post and, once approved, the held one."""
    from listfed.db.engine import Database
    from listfed.migrations import MIGRATIONS
    from listfed.service import database_path
    from tests.conftest import make_config

    path = database_path(make_config(tmp_path, smarthost.port))
    path.parent.mkdir(parents=True)
    db = Database(path)
    assert upgrade(db, MIGRATIONS[:6]) == 6
    with db.write() as s:
        local, domain = TEAM.split("@")
        s.connection().execute(  # as a version 6 node made it
            text(
                "INSERT INTO mlist (local, domain, description, footer, policy, "
                "nonmember_action, archive, visibility, max_message_size, reply_to, dmarc, "
                "created) VALUES (:l, :d, '', '', 'open', 'hold', 1, 'public', 0, 'none', "
                "'munge', 0)"
            ),
            {"l": local, "d": domain},
        )
        for person in PEOPLE:
            s.connection().execute(
                text(
                    "INSERT INTO member (list_id, address, display_address, name, role, "
                    "delivery, bounce_score, delivery_disabled, last_failure, created) "
                    "VALUES (1, :a, :a, '', 'member', 'regular', 0, 0, '', 0)"
                ),
                {"a": person},
            )
        conn = s.connection()
        conn.execute(
            text(
                "INSERT INTO queue (kind, list_id, rcpt, detail, mail_from, message_id, raw, "
                "received, approved, origin, state, attempts, next_attempt, last_error) "
                "VALUES ('post', 1, :t, '', 'alice@example.net', 'old1@x', :r, 0, 0, '', "
                "'new', 0, 0, '')"
            ),
            {"t": TEAM, "r": post(subject="queued", message_id="<old1@x>")},
        )
        conn.execute(
            text(
                "INSERT INTO held (list_id, mail_from, sender, subject, message_id, reason, "
                "raw, received, expires) VALUES (1, 'alice@example.net', 'alice@example.net', "
                "'held', 'old2@x', 'moderated', :r, 0, 0)"
            ),
            {"r": post(subject="held", message_id="<old2@x>")},
        )
    db.close()
    async with running_world(tmp_path, smarthost) as w:
        await w.idle()
        with w.write() as s:
            [(row, _)] = held.all_held(s)
            assert row.id is not None
            held.approve(s, row.id)
        await w.idle()
        subjects = sorted(m.message["Subject"] for _, m in smarthost.deliveries())
        assert subjects == ["[team] held"] * 2 + ["[team] queued"] * 2
        assert count(w, "spooled") == 0
