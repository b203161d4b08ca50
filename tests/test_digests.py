"""Digests as a digest member notices them: one message per digest, by size or by period,
MIME or RFC 1153 plain, sent once, readable, never to those who should not get one."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from listfed.cli.app import app
from listfed.db.models import DigestItem, Member
from listfed.digests import collect
from listfed.listinfo import DeliveryMode, Policy, Role
from listfed.ops import members
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world

TEAM = f"team@{DOMAIN}"
BOARD = f"board@{DOMAIN}"
ALICE, BOB = "alice@example.net", "bob@example.net"
DAVE, ERIN = "dave@example.net", "erin@example.net"


def to(world: World, address: str) -> list[EmailMessage]:
    assert world.smarthost is not None
    return [m.message for r, m in world.smarthost.deliveries() if r == address]


def subjects(world: World, address: str) -> list[str]:
    return [str(m["Subject"]) for m in to(world, address)]


def setup(world: World, address: str = TEAM, digest: tuple[str, ...] = (DAVE,), **kw: str) -> None:
    """An open list: Alice and Bob get posts one by one, `digest` get digests."""
    world.make_list(address, Policy.OPEN, [ALICE, BOB], **kw)
    with world.write() as s:
        members.add(s, address, list(digest), Role.MEMBER, DeliveryMode.DIGEST)


def sized(n: int, sender: str, size: int = 700) -> bytes:
    """Post number `n`, exactly `size` bytes long."""
    head = post(f"Sized {n}", "", sender, message_id=f"<s{n}@example.net>")
    head = head.replace(b"Alice <", f"{sender.split('@')[0].title()} <".encode())
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


def parts(msg: EmailMessage) -> list[EmailMessage]:
    assert msg.get_content_type() == "multipart/digest"
    return list(msg.iter_parts())  # type: ignore[arg-type]


def inner(part: EmailMessage) -> EmailMessage:
    assert part.get_content_type() == "message/rfc822"
    content = part.get_content()
    assert isinstance(content, EmailMessage)
    return content


def text(msg: EmailMessage) -> str:
    return str(msg.get_content()).replace("\r\n", "\n")


def pending(world: World) -> int:
    with world.node.db.read() as s:
        return int(s.exec(select(func.count()).select_from(DigestItem)).one())


async def send_now(world: World, address: str = TEAM) -> dict[str, int]:
    """What `listfed digests send LIST` does, then the delivery."""
    with world.write() as s:
        sent = collect.send_pending(s, address, time.time())
    world.node.deliverer.wake.set()
    await world.idle()
    return sent


async def housekeep(world: World) -> None:
    await world.node.db.run(world.node.housekeeper.pass_once)
    world.node.deliverer.wake.set()
    await world.idle()


async def test_size_digest_holds_every_post_in_order_with_its_author(world: World) -> None:
    setup(world, digest_size="2KB")
    for n, sender in enumerate([ALICE, BOB] * 3, 1):
        await world.send(sized(n, sender), TEAM, sender)
        await world.idle()
        if n == 2:
            assert to(world, DAVE) == [] and pending(world) == 2  # 1400 bytes: not yet
        if n == 3:  # 2100 bytes: over 2 KB, so the digest goes out now
            assert len(to(world, DAVE)) == 1 and pending(world) == 0
    first, second = to(world, DAVE)
    assert first["Subject"] == "team digest, issue 1"
    toc, *posts = parts(first)
    assert toc.get_content_type() == "text/plain"
    lines = [line.strip() for line in text(toc).splitlines()]
    assert [line for line in lines if line[:2] in ("1.", "2.", "3.", "4.")] == [
        f"1. Sized 1 (Alice <{ALICE}>)",
        f"2. Sized 2 (Bob <{BOB}>)",
        f"3. Sized 3 (Alice <{ALICE}>)",
    ]
    got = [inner(p) for p in posts]
    assert [m["Subject"] for m in got] == ["Sized 1", "Sized 2", "Sized 3"]
    assert [m["From"].addresses[0].addr_spec for m in got] == [ALICE, BOB, ALICE]
    assert second["Subject"] == "team digest, issue 2"
    assert [inner(p)["Subject"] for p in parts(second)[1:]] == ["Sized 4", "Sized 5", "Sized 6"]
    for person in (ALICE, BOB):  # never a digest, every post on its own
        assert subjects(world, person) == [f"[team] Sized {n}" for n in range(1, 7)]


@pytest.mark.parametrize(
    ("period", "early", "late"), [("hourly", 1800, 3600 + 60), ("daily", 86400 - 60, 86400 + 60)]
)
async def test_period_digest_is_sent_when_the_period_runs_out(
    tmp_path: Path, smarthost: RecordingSmarthost, period: str, early: float, late: float
) -> None:
    offset = [0.0]
    async with running_world(tmp_path, smarthost, lambda: time.time() + offset[0]) as world:
        setup(world, digest_period=period)
        await world.send(post("Small one", "Just this.\r\n"), TEAM)
        await world.idle()
        await housekeep(world)
        offset[0] = early
        await housekeep(world)
        assert to(world, DAVE) == [] and pending(world) == 1
        offset[0] = late
        await housekeep(world)
        [digest] = to(world, DAVE)
        [_, only] = parts(digest)
        assert inner(only)["Subject"] == "Small one"
        assert text(inner(only)) == "Just this.\n"
        await housekeep(world)  # nothing left to send
        assert len(to(world, DAVE)) == 1 and pending(world) == 0


async def test_plain_digest_is_one_rfc1153_text(world: World) -> None:
    setup(world, digest_format="plain")
    await world.send(post("One", "First text.\r\n", message_id="<p1@x>"), TEAM)
    await world.send(post("Two", "Second text.\r\n", BOB, message_id="<p2@x>"), TEAM, BOB)
    await world.idle()
    assert await send_now(world) == {TEAM: 2}
    [digest] = to(world, DAVE)
    assert digest.get_content_type() == "text/plain" and not digest.is_multipart()
    toc, rule, rest = text(digest).partition("\n" + "-" * 70 + "\n")
    assert rule and "Today's Topics:" in toc
    assert f"1. One (Alice <{ALICE}>)" in toc and f"2. Two (Alice <{BOB}>)" in toc
    first, second, end = rest.split("\n" + "-" * 30 + "\n")
    assert "Message: 1" in first and "Subject: One" in first and "First text." in first
    assert "Message: 2" in second and f"From: Alice <{BOB}>" in second and "Second text." in second
    assert end.strip().startswith("End of team digest, issue 1")


def digests_send(tmp_path: Path, *args: str) -> str:
    """`listfed digests send [LIST]` against the running node's database."""
    config = tmp_path / "listfed.toml"
    config.write_text(
        f'[node]\nname = "node.example.org"\ndomains = ["{DOMAIN}"]\ndata_dir = "var"\n'
    )
    result = CliRunner().invoke(app, ["--config", str(config), "digests", "send", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_digests_send_now_and_nothing_when_nothing_is_pending(
    world: World, tmp_path: Path
) -> None:
    setup(world)
    setup(world, BOARD)
    await world.send(post("Team news"), TEAM)
    await world.send(post("Board news", to=BOARD, message_id="<b1@x>"), BOARD)
    await world.idle()
    assert "team@lists.example.org: digest of 1 post(s)" in digests_send(tmp_path, TEAM)
    world.node.deliverer.wake.set()
    await world.idle()
    [digest] = to(world, DAVE)
    assert digest["List-Id"] == f"<team.{DOMAIN}>"
    assert inner(parts(digest)[1])["Subject"] == "Team news"
    assert pending(world) == 1  # the board's waits for its own time
    assert "board@lists.example.org: digest of 1" in digests_send(tmp_path)
    assert digests_send(tmp_path).strip() == "no digest pending"
    assert digests_send(tmp_path, TEAM).strip() == "no digest pending"
    world.node.deliverer.wake.set()
    await world.idle()
    assert subjects(world, DAVE) == ["team digest, issue 1", "board digest, issue 1"]


async def test_a_list_without_digest_members_collects_nothing(world: World) -> None:
    setup(world, digest=())
    setup(world, BOARD)  # digest members elsewhere do not count
    await world.send(post("Nobody digests"), TEAM)
    await world.idle()
    assert pending(world) == 0
    assert subjects(world, ALICE) == ["[team] Nobody digests"]
    assert await send_now(world) == {TEAM: 0}


async def test_bounce_disabled_digest_member_gets_no_digest(world: World) -> None:
    setup(world, digest=(DAVE, ERIN))
    with world.write() as s:
        dave = s.exec(select(Member).where(Member.address == DAVE)).one()
        dave.delivery_disabled = True
        s.add(dave)
    await world.send(post("While Dave bounces"), TEAM)
    await world.idle()
    assert await send_now(world) == {TEAM: 1}
    assert to(world, DAVE) == []
    [digest] = to(world, ERIN)
    assert inner(parts(digest)[1])["Subject"] == "While Dave bounces"


async def test_pending_digest_survives_a_restart_and_is_sent_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    async with running_world(tmp_path, smarthost, clock) as world:
        setup(world, digest_size="2KB")
        for n in (1, 2):
            await world.send(sized(n, ALICE), TEAM)
            await world.idle()
        assert to(world, DAVE) == []
    async with running_world(tmp_path, smarthost, clock) as world:
        assert pending(world) == 2
        for n in (3, 4):  # the third crosses 2 KB; the fourth waits for the period
            await world.send(sized(n, ALICE), TEAM)
            await world.idle()
    offset[0] = 8 * 86400  # any period has run out
    for _ in range(2):  # started twice: the second start finds nothing to send
        async with running_world(tmp_path, smarthost, clock) as world:
            await housekeep(world)
    got = [[inner(p)["Subject"] for p in parts(d)[1:]] for d in to(world, DAVE)]
    assert got == [["Sized 1", "Sized 2", "Sized 3"], ["Sized 4"]]
    assert subjects(world, ALICE) == [f"[team] Sized {n}" for n in range(1, 5)]


async def test_utf8_post_is_readable_inside_the_digest(world: World) -> None:
    setup(world)
    raw = (
        "From: =?utf-8?q?Al=C3=AFce?= <alice@example.net>\r\nTo: team@lists.example.org\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\nMessage-ID: <u1@example.net>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        "\r\nSchöne Grüße — ça va? 😀\r\n"
    ).encode()
    await world.send(raw, TEAM)
    await world.idle()
    assert await send_now(world) == {TEAM: 1}
    [digest] = to(world, DAVE)
    toc, part = parts(digest)
    assert f"1. Grüße aus Köln (Alïce <{ALICE}>)" in text(toc)
    msg = inner(part)
    assert msg["Subject"] == "Grüße aus Köln"
    assert msg["From"].addresses[0].display_name == "Alïce"
    assert text(msg) == "Schöne Grüße — ça va? 😀\n"


async def test_leaving_digest_delivery_sends_what_was_pending(world: World) -> None:
    setup(world, digest=(DAVE, ERIN))
    await world.send(sized(1, ALICE), TEAM)
    await world.idle()
    request = f"team-request@{DOMAIN}"
    command = (
        f"From: {DAVE}\r\nTo: {request}\r\nSubject: set delivery regular\r\n"
        "Message-ID: <sw@example.net>\r\n\r\n"
    ).encode()
    await world.send(command, request, DAVE)
    await world.idle()
    [ask] = [m for m in to(world, DAVE) if str(m["Subject"]).startswith("confirm ")]
    confirm = str(ask["Reply-To"])
    await world.send(post("Re: confirm", "yes", DAVE, confirm, "<ok@x>"), confirm, DAVE)
    await world.idle()
    [digest] = [m for m in to(world, DAVE) if m.get_content_type() == "multipart/digest"]
    assert str(inner(parts(digest)[1])["Subject"]) == "Sized 1"
    assert to(world, ERIN) == []  # the others' digest is still collecting
    await world.send(sized(2, ALICE), TEAM)
    await world.idle()
    assert "[team] Sized 2" in subjects(world, DAVE)
