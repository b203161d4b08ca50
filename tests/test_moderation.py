"""Moderation by email over real SMTP: the notice, replies as a mail client writes them
(approve, approve always, reject REASON, discard, the mailto Subject form, nonsense),
the CLI and mail in step, expiry; and the posting rules that hold (member flag, accept
list, MIME types, emergency)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner, Result

from listfed.cli.app import app
from listfed.db.models import Held, Member
from listfed.listinfo import Policy, Role
from listfed.ops import held, lists, members
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world

TEAM = f"team@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net"]
MOD = "mod@example.org"
STRANGER = "eve@elsewhere.example"


def setup(world: World, policy: Policy = Policy.MEMBERS, **settings: str) -> None:
    world.make_list(TEAM, policy, people=PEOPLE, **settings)
    with world.write() as s:
        members.add(s, TEAM, [MOD], Role.MODERATOR)


def to(world: World, address: str) -> list[EmailMessage]:
    assert world.smarthost is not None
    return [m.message for r, m in world.smarthost.deliveries() if r == address]


def answer(world: World) -> str:
    """The text of the newest robot answer to the moderator (not a post)."""
    return text_of([m for m in to(world, MOD) if not m["List-Post"]][-1])


def posts_to(world: World, address: str) -> list[EmailMessage]:
    return [m for m in to(world, address) if m["List-Post"]]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",)) if msg.is_multipart() else msg
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def held_rows(world: World) -> list[Held]:
    with world.node.db.read() as s:
        return list(s.exec(select(Held)).all())


async def notice_for(world: World, message: bytes, sender: str) -> EmailMessage:
    await world.send(message, TEAM, sender)
    await world.idle()
    notices = [m for m in to(world, MOD) if m["X-Listfed-Held"]]
    assert notices, "no moderation notice"
    return notices[-1]


async def reply(world: World, notice: EmailMessage, first: str, subject: str = "") -> None:
    """Answer the notice as a phone's mail client does: the line, then the quote."""
    address = re.search(r"<([^>]+)>", str(notice["From"]))
    assert address is not None
    quoted = "\r\n".join(f"> {line}" for line in text_of(notice).splitlines()[:5])
    attribution = "On Tue, 24 Nov 2026, team moderation wrote:"
    body = f"{first}\r\n\r\nSent from my phone\r\n\r\n{attribution}\r\n{quoted}\r\n"
    raw = (
        f"From: Mo <{MOD}>\r\nTo: {notice['From']}\r\n"
        f"Subject: {subject or 'Re: ' + str(notice['Subject'])}\r\n"
        f"Message-ID: <r{len(first)}{len(subject)}@example.org>\r\n"
        f"In-Reply-To: {notice['Message-ID']}\r\n\r\n{body if first else ''}"
    ).encode()
    await world.send(raw, address.group(1), MOD)
    await world.idle()


async def test_the_notice_has_the_reason_the_post_and_a_reply_address(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER, body="Please read.\n"), STRANGER)
    assert re.fullmatch(
        r'"?team moderation"? <team-confirm\+[a-z2-7]{40}@lists\.example\.org>', str(notice["From"])
    )
    text = text_of(notice)
    assert f"{STRANGER} is not a member of {TEAM}" in text
    assert "Subject: Hello" in text and "Please read." in text
    assert "mailto:team-confirm+" in text and "?subject=approve" in text
    attached = [p for p in notice.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert attached and attached[0].get_content()["Message-ID"] == "<m1@example.net>"
    # only the moderators (and owners) get it; the non-member poster hears nothing
    assert to(world, STRANGER) == [] and to(world, "alice@example.net") == []
    assert notice["Auto-Submitted"] == "auto-generated"


async def test_a_reply_saying_approve_sends_the_post(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    await reply(world, notice, "Approve")
    assert [m["Message-ID"] for m in posts_to(world, "alice@example.net")] == ["<m1@example.net>"]
    assert held_rows(world) == []
    assert "Approved held post" in answer(world)
    # the token is spent: a second reply changes nothing and says so
    await reply(world, notice, "discard")
    assert "decided already" in answer(world)
    assert len(posts_to(world, "alice@example.net")) == 1


async def test_reject_with_a_reason_tells_the_poster(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER, subject="Cheap pills"), STRANGER)
    await reply(world, notice, "reject off topic here")
    [told] = to(world, STRANGER)
    assert "off topic here" in text_of(told) and "Cheap pills" in text_of(told)
    assert posts_to(world, "alice@example.net") == [] and held_rows(world) == []


async def test_discard_is_silent_to_the_poster(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    await reply(world, notice, "discard")
    assert to(world, STRANGER) == [] and held_rows(world) == []
    assert "Discarded" in answer(world)


async def test_the_mailto_form_acts_by_subject_when_the_body_is_empty(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    await reply(world, notice, "", subject="approve")
    assert len(posts_to(world, "bob@example.net")) == 1


async def test_a_reply_not_understood_changes_nothing_and_gets_help(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    await reply(world, notice, "Looks fine to me I guess")
    said = answer(world)
    assert "not understood" in said and "Looks fine to me I guess" in said
    assert len(held_rows(world)) == 1
    await reply(world, notice, "approve")  # the token still works
    assert len(posts_to(world, "alice@example.net")) == 1


async def test_automatic_replies_to_the_notice_do_nothing(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    address = re.search(r"<([^>]+)>", str(notice["From"]))
    assert address is not None
    before = len(to(world, MOD))
    vacation = (
        f"From: {MOD}\r\nTo: {address.group(1)}\r\nSubject: Out of office\r\n"
        "Auto-Submitted: auto-replied\r\nMessage-ID: <v@x>\r\n\r\napprove\r\n"
    ).encode()
    await world.send(vacation, address.group(1), MOD)
    await world.idle()
    assert len(held_rows(world)) == 1 and len(to(world, MOD)) == before


async def test_approve_always_lets_a_nonmember_post_from_then_on(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    await reply(world, notice, "approve always")
    assert "accept_these_nonmembers" in answer(world)
    await world.send(post(sender=STRANGER, message_id="<m2@x>"), TEAM, STRANGER)
    await world.idle()
    assert [m["Message-ID"] for m in posts_to(world, "alice@example.net")] == [
        "<m1@example.net>",
        "<m2@x>",
    ]


async def test_a_moderated_member_waits_until_approved_always(world: World) -> None:
    setup(world)
    with world.write() as s:
        members.set_value(s, TEAM, "alice@example.net", "moderated", "true")
    notice = await notice_for(world, post(), "alice@example.net")
    assert "whose posts are moderated" in text_of(notice)
    assert "awaits moderator approval" in str(to(world, "alice@example.net")[-1]["Subject"])
    await reply(world, notice, "approve always")
    with world.node.db.read() as s:
        alice = s.exec(select(Member).where(Member.address == "alice@example.net")).one()
    assert alice.moderated is False
    assert len(posts_to(world, "bob@example.net")) == 1


async def test_cli_and_mail_stay_in_step(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    [row] = held_rows(world)
    with world.write() as s:
        held.approve(s, row.id or 0)
    await world.idle()
    await reply(world, notice, "reject no")
    assert "decided already" in answer(world)
    assert to(world, STRANGER) == []  # nobody was told of a rejection
    assert len(posts_to(world, "alice@example.net")) == 1


def cli(world: World, *args: str) -> Result:
    """`listfed ARGS` on the world's node, as its admin runs it."""
    config = world.node.config.node.data_dir.parent / "listfed.toml"
    config.write_text(f'[node]\nname = "node.example.org"\ndomains = ["{DOMAIN}"]\n')
    return CliRunner().invoke(app, ["--config", str(config), *args])


async def test_held_approve_on_a_post_decided_already_says_so_and_fails(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    [row] = held_rows(world)
    await reply(world, notice, "discard")  # decided by mail
    done = cli(world, "held", "approve", str(row.id))
    assert done.exit_code == 1
    assert re.fullmatch(
        rf"listfed: held post {row.id} has been decided already "
        r"\(\d{4}-\d\d-\d\d \d\d:\d\d UTC\); nothing was done\n",
        done.stderr,
    ), done.stderr
    await world.send(post(sender=STRANGER, message_id="<m2@example.net>"), TEAM, STRANGER)
    await world.idle()
    [again] = held_rows(world)
    assert cli(world, "held", "approve", str(again.id)).exit_code == 0
    twice = cli(world, "held", "reject", str(again.id))  # on the command line, twice
    assert twice.exit_code == 1 and "has been decided already" in twice.stderr
    assert cli(world, "held", "show", "999").stderr == "listfed: no held message 999\n"


async def test_a_moderation_code_cannot_be_used_as_a_subscription_code(world: World) -> None:
    setup(world)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    token = re.search(r"confirm\+([a-z2-7]+)@", str(notice["From"]))
    assert token is not None
    raw = (
        f"From: {STRANGER}\r\nTo: team-request@{DOMAIN}\r\nSubject: x\r\n"
        f"Message-ID: <c@x>\r\n\r\nconfirm {token.group(1)}\r\n"
    ).encode()
    await world.send(raw, f"team-request@{DOMAIN}", STRANGER)
    await world.idle()
    assert "for a held post" in text_of(to(world, STRANGER)[-1])
    assert len(held_rows(world)) == 1
    await reply(world, notice, "approve")
    assert len(posts_to(world, "alice@example.net")) == 1


async def test_held_posts_expire_and_a_member_is_told(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    now = [1_800_000_000.0]
    async with running_world(tmp_path, smarthost, clock=lambda: now[0]) as world:
        setup(world, Policy.MODERATED, hold_expiry="2d")
        notice = await notice_for(world, post(), "alice@example.net")
        assert "dropped on" in text_of(notice)
        [row] = held_rows(world)
        now[0] += 86400
        await world.node.db.run(world.node.housekeeper.pass_once)
        assert len(held_rows(world)) == 1  # one day: still waiting
        now[0] += 86401
        await world.node.db.run(world.node.housekeeper.pass_once)
        await world.idle()
        assert held_rows(world) == []
        told = to(world, "alice@example.net")[-1]
        assert "nobody decided" in text_of(told)
        await reply(world, notice, "approve")
        assert "expired, undecided" in answer(world)
        late = cli(world, "held", "approve", str(row.id))  # on the command line too
        assert late.exit_code == 1
        assert late.stderr.startswith(f"listfed: held post {row.id} has expired, undecided (")
        assert posts_to(world, "bob@example.net") == []


async def test_accept_these_nonmembers_globs_and_regexes(world: World) -> None:
    setup(world, accept_these_nonmembers="*@partner.example ^news-.*@wire\\.example$")
    for i, sender in enumerate(["ann@partner.example", "news-1@wire.example", STRANGER]):
        await world.send(post(sender=sender, message_id=f"<a{i}@x>"), TEAM, sender)
    await world.idle()
    assert [m["Message-ID"] for m in posts_to(world, "alice@example.net")] == ["<a0@x>", "<a1@x>"]
    assert [r.sender for r in held_rows(world)] == [STRANGER]


ZIP = (
    'Content-Type: multipart/mixed; boundary="b"\r\nMIME-Version: 1.0\r\n',
    "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n"
    "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=a.zip\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--b--\r\n",
)


@pytest.mark.parametrize(
    ("types", "is_held"), [("application/zip", True), ("application/*", True), ("image/*", False)]
)
async def test_hold_types_hold_a_post_with_such_a_part(
    world: World, types: str, is_held: bool
) -> None:
    setup(world, hold_types=types)
    await world.send(post(extra=ZIP[0], body=ZIP[1]), TEAM)
    await world.idle()
    rows = held_rows(world)
    assert bool(rows) is is_held
    if is_held:
        assert rows[0].reason == "the message contains a application/zip part"


async def test_emergency_moderation_holds_even_members(world: World) -> None:
    setup(world, emergency="true")
    await world.send(post(), TEAM)
    await world.idle()
    [row] = held_rows(world)
    assert row.reason.startswith("emergency moderation")
    with world.write() as s:
        lists.set_value(s, TEAM, "emergency", "false")
        held.approve(s, row.id or 0)
    await world.idle()
    assert len(posts_to(world, "bob@example.net")) == 1


async def test_a_late_reply_never_acts_on_a_later_post_with_the_same_id(world: World) -> None:
    """Held ids can be reused; the codes of a post decided elsewhere are spent with it."""
    other = f"other@{DOMAIN}"
    setup(world)
    world.make_list(other, Policy.MEMBERS, people=["carol@example.net"])
    notice = await notice_for(world, post(sender=STRANGER, subject="first"), STRANGER)
    for to_list in (TEAM, other):  # the same list, then another list
        [row] = held_rows(world)
        with world.write() as s:
            held.discard(s, row.id or 0)  # decided on the command line
        spam = "spam@bad.example"
        await world.send(post(sender=spam, to=to_list, message_id=f"<s@{to_list}>"), to_list, spam)
        await world.idle()
        [again] = held_rows(world)
        assert again.id == row.id  # the id was given again
        await reply(world, notice, "approve")  # a late reply to the first post's notice
        assert "Nothing was done" in answer(world)
        assert posts_to(world, "alice@example.net") == posts_to(world, "carol@example.net") == []


async def test_approve_always_of_a_glob_like_sender_accepts_only_that_address(
    world: World,
) -> None:
    setup(world)
    notice = await notice_for(world, post(sender="*@*", subject="hi"), "x@bad.example")
    await reply(world, notice, "approve always")
    await world.send(post(sender=STRANGER, message_id="<m2@x>"), TEAM, STRANGER)
    await world.send(post(sender="*@*", message_id="<m3@x>"), TEAM, "x@bad.example")
    await world.idle()
    assert [r.sender for r in held_rows(world)] == [STRANGER]
    assert "<m3@x>" in [m["Message-ID"] for m in posts_to(world, "alice@example.net")]


async def test_approve_always_on_an_announce_list_makes_a_listed_poster(world: World) -> None:
    setup(world, Policy.ANNOUNCE)
    notice = await notice_for(world, post(sender=STRANGER), STRANGER)
    await reply(world, notice, "approve always")
    await world.send(post(sender=STRANGER, message_id="<m2@x>"), TEAM, STRANGER)
    await world.idle()
    assert held_rows(world) == []
    assert len(posts_to(world, "bob@example.net")) == 2
