"""Members by email over real SMTP: join, confirm, welcome, digest, leave; the safety
rules (automatic mail, forged senders, privacy, rate limit); -owner."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from listfed.db import members as stored_members
from listfed.db.models import Member, Token
from listfed.digests import collect
from listfed.listinfo import Role
from listfed.ops import members
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world

TEAM = f"team@{DOMAIN}"
DAVE = "dave@example.net"


def mail(
    to: str,
    subject: str = "",
    body: str = "",
    sender: str = DAVE,
    extra: str = "",
    mid: str = "<x@example.net>",
) -> bytes:
    return (
        f"From: Dave <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n{extra}\r\n{body}"
    ).encode()


def to(world: World, address: str) -> list[EmailMessage]:
    """What the smarthost received for `address`, oldest first."""
    assert world.smarthost is not None
    return [m.message for r, m in world.smarthost.deliveries() if r == address]


def text_of(msg: EmailMessage) -> str:
    return str(msg.get_content()).replace("\r\n", "\n")


def token_of(msg: EmailMessage) -> str:
    match = re.search(r"team-confirm\+([a-z2-7]+)@", str(msg["From"]))
    assert match, msg["From"]
    return match.group(1)


def confirmation(world: World, address: str) -> EmailMessage:
    return [m for m in to(world, address) if str(m["Subject"]).startswith("confirm ")][-1]


def member(world: World, address: str) -> Member | None:
    with world.node.db.read() as s:
        return s.exec(select(Member).where(Member.address == address)).first()


async def confirm_last(world: World, address: str) -> EmailMessage:
    """Reply to the newest confirmation request to `address`; the last message after."""
    request = confirmation(world, address)
    reply_to = str(request["Reply-To"])
    reply = mail(reply_to, f"Re: {request['Subject']}", "ok\r\n", sender=address, mid="<ok@x>")
    await world.send(reply, reply_to, address)
    await world.idle()
    return to(world, address)[-1]


async def ask_and_confirm(world: World, address: str, robot: str) -> EmailMessage:
    """Write to `robot`, reply to the confirmation like a mail client; the last message."""
    seen = len(to(world, address))
    await world.send(mail(f"{robot}@{DOMAIN}", sender=address), f"{robot}@{DOMAIN}", address)
    await world.idle()
    request = to(world, address)[seen]
    assert str(request["Subject"]).startswith("confirm ")
    reply_to = str(request["Reply-To"])
    quoted = "\r\n".join("> " + line for line in text_of(request).splitlines())
    reply = mail(
        reply_to,
        f"Re: {request['Subject']}",
        f"Yes please.\r\n\r\nOn Tue, Dave wrote:\r\n{quoted}\r\n",
        sender=address,
        extra=f"In-Reply-To: {request['Message-ID']}\r\n",
        mid=f"<reply-{seen}@example.net>",
    )
    await world.send(reply, reply_to, address)
    await world.idle()
    return to(world, address)[-1]


async def test_join_confirm_welcome_post_digest_leave(world: World) -> None:
    world.make_list(TEAM, people=["alice@example.net"])
    welcome = await ask_and_confirm(world, DAVE, "team-join")
    assert "Welcome to team@" in str(welcome["Subject"])
    assert "team-leave@" in text_of(welcome)
    joined = member(world, DAVE)
    assert joined is not None and joined.name == "Dave" and joined.delivery == "regular"

    await world.send(post(subject="First"), TEAM)
    await world.idle()
    assert str(to(world, DAVE)[-1]["Subject"]) == "[team] First"

    await world.send(
        mail(f"team-request@{DOMAIN}", "set delivery digest"), f"team-request@{DOMAIN}"
    )
    await world.idle()
    result = await confirm_last(world, DAVE)
    assert "Delivery for dave@example.net is now digest" in text_of(result)
    await world.send(post(subject="Second", message_id="<m2@example.net>"), TEAM)
    await world.idle()
    assert str(to(world, DAVE)[-1]["Subject"]) != "[team] Second"
    with world.write() as s:
        assert collect.send_pending(s, TEAM, 0.0) == {TEAM: 1}
    world.node.deliverer.wake.set()
    await world.idle()
    digest = to(world, DAVE)[-1]
    assert digest.get_content_type() == "multipart/digest"
    inner = [p.get_content() for p in digest.iter_parts()][1]
    assert inner["Subject"] == "Second" and "alice@example.net" in str(inner["From"])

    goodbye = await ask_and_confirm(world, DAVE, "team-leave")
    assert "Goodbye" in str(goodbye["Subject"])
    assert member(world, DAVE) is None


@pytest.mark.parametrize(("join", "leave"), [("team-subscribe", "team-unsubscribe")])
async def test_mailmans_subscribe_and_unsubscribe_addresses_join_and_leave(
    world: World, join: str, leave: str
) -> None:
    world.make_list(TEAM, people=["alice@example.net"])
    welcome = await ask_and_confirm(world, DAVE, join)
    assert "Welcome to team@" in str(welcome["Subject"])
    assert member(world, DAVE) is not None
    goodbye = await ask_and_confirm(world, DAVE, leave)
    assert "Goodbye" in str(goodbye["Subject"])
    assert member(world, DAVE) is None


async def test_request_commands_get_one_reply_listing_what_was_done(world: World) -> None:
    world.make_list(TEAM)
    body = "subscribe\r\nset delivery sometimes\r\nplease be quick\r\nsubscribe\r\n"
    await world.send(mail(f"team-request@{DOMAIN}", "help", body), f"team-request@{DOMAIN}")
    await world.idle()
    got = to(world, DAVE)
    replies = [m for m in got if not str(m["Subject"]).startswith("confirm ")]
    assert len(replies) == 1 and len(got) == 2  # the results, and one confirmation request
    text = text_of(replies[0])
    assert "> help" in text and "> subscribe" in text
    assert "sent to dave@example.net for confirmation" in text
    assert "Not done: use: set delivery regular|digest|nomail" in text
    assert "Not understood:\n> please be quick\n(1 more line(s)" in text
    assert replies[0]["In-Reply-To"] == "<x@example.net>"


async def test_confirm_by_command_in_a_request(world: World) -> None:
    world.make_list(TEAM)
    await world.send(mail(f"team-request@{DOMAIN}", "subscribe"), f"team-request@{DOMAIN}")
    await world.idle()
    token = token_of(confirmation(world, DAVE))
    body = f"confirm {token.upper()}\r\n"  # an MTA or a person may change the case
    await world.send(
        mail(f"team-request@{DOMAIN}", "", body, mid="<c@x>"), f"team-request@{DOMAIN}"
    )
    await world.idle()
    assert member(world, DAVE) is not None
    assert any("now subscribed" in text_of(m) for m in to(world, DAVE))


async def test_used_expired_and_unknown_tokens_are_refused_with_a_reason(world: World) -> None:
    world.make_list(TEAM)
    await world.send(mail(f"team-join@{DOMAIN}"), f"team-join@{DOMAIN}")
    await world.idle()
    token = token_of(to(world, DAVE)[-1])
    confirm = f"team-confirm+{token}@{DOMAIN}"
    await world.send(mail(confirm, "Re: confirm", mid="<c1@x>"), confirm)
    await world.idle()
    assert member(world, DAVE) is not None
    await world.send(mail(confirm, "Re: confirm", mid="<c2@x>"), confirm)  # again
    bogus = f"team-confirm+{'a' * 40}@{DOMAIN}"
    await world.send(mail(bogus, "Re: confirm", mid="<c3@x>"), bogus)
    await world.idle()
    texts = [text_of(m) for m in to(world, DAVE)]
    assert any("has been used already" in t for t in texts)
    assert any("is unknown" in t for t in texts)


async def test_an_expired_token_is_refused(tmp_path: Path, smarthost: RecordingSmarthost) -> None:
    offset = [0.0]
    async with running_world(tmp_path, smarthost, lambda: time.time() + offset[0]) as world:
        world.make_list(TEAM)
        await world.send(mail(f"team-join@{DOMAIN}"), f"team-join@{DOMAIN}")
        await world.idle()
        confirm = f"team-confirm+{token_of(confirmation(world, DAVE))}@{DOMAIN}"
        offset[0] = 7 * 86400 + 60  # a week and a minute later
        await world.send(mail(confirm, "Re: confirm", mid="<late@x>"), confirm)
        await world.idle()
        assert "has expired" in text_of(to(world, DAVE)[-1])
        assert member(world, DAVE) is None


async def test_a_token_cannot_be_moved_to_another_address(world: World) -> None:
    world.make_list(TEAM)
    await world.send(mail(f"team-join@{DOMAIN}"), f"team-join@{DOMAIN}")
    await world.idle()
    token = token_of(to(world, DAVE)[-1])
    with world.write() as s:  # someone with access to the rows, but not to the node secret
        row = s.exec(select(Token).where(Token.token == token)).one()
        row.address = "mallory@example.com"
        s.add(row)
    confirm = f"team-confirm+{token}@{DOMAIN}"
    await world.send(mail(confirm, "Re: confirm"), confirm)
    await world.idle()
    assert member(world, "mallory@example.com") is None
    assert "is not valid" in text_of(to(world, DAVE)[-1])
    with world.write() as s:  # nor be given a longer life
        row = s.exec(select(Token).where(Token.token == token)).one()
        row.address, row.expires = DAVE, row.expires + 86400
        s.add(row)
    await world.send(mail(confirm, "Re: confirm", mid="<again@x>"), confirm)
    await world.idle()
    assert member(world, DAVE) is None
    assert "is not valid" in text_of(to(world, DAVE)[-1])


async def test_automatic_mail_is_never_answered(world: World) -> None:
    world.make_list(TEAM)
    request = f"team-request@{DOMAIN}"
    for i, extra in enumerate(
        [
            "Auto-Submitted: auto-replied\r\n",
            "Precedence: bulk\r\n",
            "Precedence: list\r\n",
            f"List-Id: <team.{DOMAIN}>\r\n",
            "X-Autoreply: yes\r\n",
        ]
    ):
        await world.send(mail(request, "help", extra=extra, mid=f"<a{i}@x>"), request)
    daemon = "MAILER-DAEMON@example.net"
    await world.send(mail(request, "help", sender=daemon, mid="<md@x>"), request, daemon)
    await world.send(
        mail(f"team-join@{DOMAIN}", extra="Auto-Submitted: auto-generated\r\n"),
        f"team-join@{DOMAIN}",
    )
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []


async def test_a_forged_sender_cannot_subscribe_or_unsubscribe_someone_else(world: World) -> None:
    world.make_list(TEAM, people=["bob@example.net"])
    request = f"team-request@{DOMAIN}"
    # Mallory names Bob (a member), Carol and Erin (not): each is asked, nothing changes.
    body = (
        "unsubscribe bob@example.net\r\nsubscribe carol@example.com\r\n"
        "unsubscribe erin@example.com\r\n"
    )
    await world.send(
        mail(request, "", body, sender="mallory@example.com"), request, "mallory@example.com"
    )
    # Mallory forges Bob's From: the confirmation goes to Bob, not to the envelope sender.
    await world.send(
        mail(f"team-leave@{DOMAIN}", sender="bob@example.net", mid="<f@x>"),
        f"team-leave@{DOMAIN}",
        "mallory@example.com",
    )
    await world.idle()
    assert member(world, "bob@example.net") is not None
    assert member(world, "carol@example.com") is None
    [results] = to(world, "mallory@example.com")
    text = text_of(results)
    # Mallory cannot tell the member Bob from the non-member Erin.
    assert "request to unsubscribe has been sent to bob@example.net for confirmation" in text
    assert "request to unsubscribe has been sent to erin@example.com for confirmation" in text
    bob = [text_of(m) for m in to(world, "bob@example.net")]
    assert len(bob) == 2 and all("confirm" in t for t in bob)  # asked twice, nothing done
    assert len(to(world, "carol@example.com")) == 1
    assert "is not subscribed" in " ".join(text_of(to(world, "erin@example.com")[0]).split())


async def test_malformed_address_gets_a_clear_refusal(world: World) -> None:
    world.make_list(TEAM)
    request = f"team-request@{DOMAIN}"
    await world.send(mail(request, "subscribe someone@", ""), request)
    await world.idle()
    [reply] = to(world, DAVE)
    assert "Not done: not a valid mail address" in text_of(reply)


async def test_robot_replies_to_one_address_are_rate_limited(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, members={"replies_per_hour": 2}) as world:
        world.make_list(TEAM)
        request = f"team-request@{DOMAIN}"
        for i in range(5):
            await world.send(mail(request, "help", mid=f"<h{i}@x>"), request)
        await world.idle()
        assert len(to(world, DAVE)) == 2


async def test_html_only_request_is_understood(world: World) -> None:
    world.make_list(TEAM, people=[DAVE])
    request = f"team-request@{DOMAIN}"
    html = "<html><body><p>set delivery nomail</p><p>Thanks!</p></body></html>\r\n"
    extra = "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
    await world.send(mail(request, "", html, extra=extra), request)
    await world.idle()
    found = member(world, DAVE)
    assert found is not None and found.delivery == "regular"  # not before it is confirmed
    await confirm_last(world, DAVE)
    found = member(world, DAVE)
    assert found is not None and found.delivery == "nomail"


async def test_owner_mail_reaches_the_owners_once(world: World) -> None:
    world.make_list(TEAM)
    with world.write() as s:
        members.add(s, TEAM, ["olga@example.org"], Role.OWNER)
    owner = f"team-owner@{DOMAIN}"
    await world.send(mail(owner, "A question", "Who runs this?\r\n"), owner)
    marked = mail(owner, "Loop", extra=f"X-Listfed-Owner: {TEAM}\r\n", mid="<loop@x>")
    await world.send(marked, owner)
    await world.idle()
    [got] = to(world, "olga@example.org")
    assert got["Subject"] == "A question" and got["X-Listfed-Owner"] == TEAM
    assert world.smarthost is not None
    assert world.smarthost.received[0].mail_from == f"team-bounces@{DOMAIN}"


async def test_a_forgotten_address_cannot_confirm_any_more(world: World) -> None:
    world.make_list(TEAM)
    await world.send(mail(f"team-join@{DOMAIN}"), f"team-join@{DOMAIN}")
    await world.idle()
    confirm = f"team-confirm+{token_of(confirmation(world, DAVE))}@{DOMAIN}"
    with world.write() as s:
        assert members.forget(s, "Dave@Example.net") == []
    await world.send(mail(confirm, "Re: confirm", mid="<late@x>"), confirm)
    await world.idle()
    assert member(world, DAVE) is None
    assert "is unknown" in text_of(to(world, DAVE)[-1])


async def test_the_senders_name_and_case_are_kept(world: World) -> None:
    world.make_list(TEAM)
    raw = mail(f"team-join@{DOMAIN}", sender="Dave.K@Example.NET").replace(
        b"From: Dave", b"From: =?utf-8?q?D=C3=A4vid_K?="
    )
    await world.send(raw, f"team-join@{DOMAIN}", "Dave.K@example.net")
    await world.idle()
    token = token_of(confirmation(world, "Dave.K@example.net"))
    confirm = f"team-confirm+{token}@{DOMAIN}"
    await world.send(mail(confirm, "Re: confirm", sender="Dave.K@example.net"), confirm)
    await world.idle()
    with world.node.db.read() as s:
        row = stored_members.find(s, 1, "dave.k@example.net")
    assert row is not None
    assert (row.name, row.display_address) == ("Dävid K", "Dave.K@example.net")


async def test_a_null_sender_is_never_answered(world: World) -> None:
    import aiosmtplib

    world.make_list(TEAM)
    client = aiosmtplib.SMTP(hostname=world.host, port=world.port, start_tls=False)
    await client.connect()
    await client.ehlo()
    assert (await client.mail("")).code == 250  # MAIL FROM:<>
    request = f"team-request@{DOMAIN}"
    assert (await client.rcpt(request)).code == 250
    assert (await client.data(mail(request, "help", mid="<null@x>"))).code == 250
    await client.quit()
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []


async def test_one_person_cannot_flood_another_through_the_robots(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, members={"replies_per_hour": 3}) as world:
        world.make_list(TEAM)
        request = f"team-request@{DOMAIN}"
        body = "".join(f"subscribe victim+{i}@example.com\r\n" for i in range(8))
        await world.send(mail(request, "", body, sender="mallory@example.com"), request)
        body = "".join(f"subscribe Victim+x{i}@example.com\r\n" for i in range(2))
        await world.send(mail(request, "", body, sender="mal@example.org", mid="<2@x>"), request)
        await world.idle()
        assert world.smarthost is not None
        victim = [r for r, _ in world.smarthost.deliveries() if r.lower().startswith("victim")]
        assert len(victim) == 3  # one inbox, whatever the +detail or case
        # each request for another address used one of the requester's own three too
        assert to(world, "mallory@example.com") == []
        [results] = to(world, "mal@example.org")
        assert text_of(results).count("for confirmation") == 2


async def test_the_last_owner_cannot_leave_by_email(world: World) -> None:
    world.make_list(TEAM)
    with world.write() as s:
        members.add(s, TEAM, ["olga@example.org"], Role.OWNER)
    last = await ask_and_confirm(world, "olga@example.org", "team-leave")
    assert "is the last owner" in text_of(last)
    assert member(world, "olga@example.org") is not None


async def test_mail_from_another_list_is_not_answered(world: World) -> None:
    world.make_list(TEAM)
    request = f"team-request@{DOMAIN}"
    await world.send(mail(request, "help", extra="List-Id: <other.example.com>\r\n"), request)
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []


async def test_a_non_member_asking_to_change_delivery_is_told_so(world: World) -> None:
    world.make_list(TEAM)
    request = f"team-request@{DOMAIN}"
    await world.send(mail(request, "set delivery digest"), request)
    await world.idle()
    [reply] = to(world, DAVE)
    assert "dave@example.net is not subscribed; nothing was changed." in text_of(reply)


@pytest.mark.parametrize("notify", [True, False])
async def test_owners_hear_of_each_join_and_leave_unless_notify_owners_is_false(
    world: World, notify: bool
) -> None:
    owner = "olive@example.org"
    world.make_list(TEAM, people=["alice@example.net"], notify_owners=str(notify).lower())
    with world.write() as s:
        members.add(s, TEAM, [owner], Role.OWNER)
    await ask_and_confirm(world, DAVE, "team-join")
    await ask_and_confirm(world, DAVE, "team-leave")
    subjects = [str(m["Subject"]) for m in to(world, owner)]
    expected = [f"{DAVE} joined {TEAM}", f"{DAVE} left {TEAM}"] if notify else []
    assert subjects == expected
