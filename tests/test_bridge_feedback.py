"""The foreign list holds, rejects or bounces a post we relayed (issue 19, item 5): its
author hears of it, once, besides the owners, who get the notice itself; `bridges ls`
shows it as the bridge's last error."""

from __future__ import annotations

import base64
from email.message import Message
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listfed.mail.cited import MAX_IDS, cited
from listfed.ops import bridgestatus as bridge_ops
from tests.conftest import DOMAIN, RecordingSmarthost
from tests.dovecot import Dovecot, dovecot_fixture  # noqa: F401 (fixture)
from tests.foreignlist import Arrival, ForeignList
from tests.test_bridge_imap import (
    DAVE,
    SECRETARY,
    TAGGED,
    SecretarysMailbox,
    append,
    at_uid,
    delivered,
    make_team,
    row,
    until,
)
from tests.test_bridge_imap import bridged as imap_bridged
from tests.test_bridge_smtp import ALICE, BRIDGE, CAROL, FOREIGN, OWEN, Bridged, bridged

STYLES = {
    "mailman 3": {"style": "mailman3", "dmarc": "munge", "reply_to_list": True},
    "sympa": {"style": "sympa", "dmarc": "munge"},
}


def told(b: Bridged, who: str) -> list[str]:
    """The subjects of what `who` got about a post of theirs from the foreign list."""
    return [str(m["Subject"]) for m in b.got(who) if str(m["Subject"]).startswith("Your post")]


def last_error(b: Bridged) -> str:
    with b.w.node.db.read() as s:
        [row] = bridge_ops.status(s, b.w.node.config.bridges)
    return str(row["last_error"])


async def alice_posts(b: Bridged, subject: str = "Bus plan") -> None:
    b.atl.mx[DOMAIN] = (b.w.host, b.w.port)  # the foreign list's mail reaches the node
    await b.local_post(subject, body="We take the 8 o'clock bus.\n")
    await b.settle()


@pytest.mark.parametrize("style", list(STYLES))
async def test_a_hold_then_a_rejection_are_told_to_the_author_once_each(
    tmp_path: Path, smarthost: RecordingSmarthost, style: str
) -> None:
    async with bridged(tmp_path, smarthost, foreign=STYLES[style]) as b:
        b.atl.moderated.add(BRIDGE)
        await alice_posts(b)
        [held] = b.atl.held
        assert told(b, ALICE) == [f"Your post to {FOREIGN} was held: Bus plan"]
        [alices] = [m for m in b.got(ALICE) if str(m["Subject"]).startswith("Your post")]
        assert "Message-ID <m1@example.net>" in str(alices.get_body(("plain",)))
        assert told(b, CAROL) == []
        [notice] = b.notices(OWEN)  # the owner gets the foreign notice itself
        assert "held" in str(notice["X-Listfed-Bridge"])
        assert last_error(b).startswith(f"held by {FOREIGN}: <m1@example.net>")

        # the same notice again (an MTA's retry): the owners get it, Alice does not
        [letter] = b.atl.notices
        await b.w.send(letter.raw, BRIDGE, mail_from=letter.mail_from)
        await b.settle()
        assert len(told(b, ALICE)) == 1

        if style == "mailman 3":  # by its subject alone: Mailman 3 cites no Message-ID
            await b.atl.reject(held, "Off topic for this list")
            await b.settle()
            assert told(b, ALICE)[1:] == [f"Your post to {FOREIGN} was rejected: Bus plan"]
            assert last_error(b).startswith(f"rejected by {FOREIGN}: <m1@example.net>")


@pytest.mark.parametrize("about", ["our relay", "no post of ours"])
async def test_a_bounce_is_told_to_the_author_of_the_post_it_returns(
    tmp_path: Path, smarthost: RecordingSmarthost, about: str
) -> None:
    async with bridged(tmp_path, smarthost) as b:
        await alice_posts(b)
        [relay] = [a for a in b.atl.received if a.mail_from == BRIDGE]
        if about == "no post of ours":
            relay = Arrival(BRIDGE, (FOREIGN,), b"Message-ID: <x@y>\n\nx\n")
        await b.atl.bounce(relay, "550 5.7.1 Message rejected by policy")
        await b.settle()
        assert len(b.notices(OWEN)) == 1  # the owners get every bounce, as before
        if about == "our relay":
            assert told(b, ALICE) == [f"Your post to {FOREIGN} was bounced: Bus plan"]
            assert last_error(b).startswith(f"bounced by {FOREIGN}: <m1@example.net>")
        else:
            assert told(b, ALICE) == []
            assert "about no post sent there" in last_error(b)


async def test_an_owner_who_wrote_the_post_gets_the_notice_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, foreign=STYLES["mailman 3"]) as b:
        b.atl.moderated.add(BRIDGE)
        b.atl.mx[DOMAIN] = (b.w.host, b.w.port)
        await b.local_post("Agenda", sender=OWEN)
        await b.settle()
        assert told(b, OWEN) == []
        assert len(b.notices(OWEN)) == 1


async def test_a_hold_notice_in_an_imap_bridges_mailbox_is_told_to_the_author(
    tmp_path: Path, smarthost: RecordingSmarthost, dovecot: Dovecot
) -> None:
    mailbox = SecretarysMailbox(dovecot)
    await make_team(tmp_path, smarthost)
    async with ForeignList(deliver=mailbox, style="mailman3") as atl:
        atl.subscribe(TAGGED)
        atl.allow(SECRETARY)
        atl.subscribe(DAVE)
        atl.moderated.add(SECRETARY)
        async with imap_bridged(tmp_path, smarthost, dovecot, smtp_port=atl.port) as w:
            await until(lambda: row(w).state == "idle", "the bridge in IDLE")
            await w.send(post_text("Bus to Atlanta"), f"team@{DOMAIN}")
            await atl.wait_until(lambda: len(atl.notices) == 1)
            [letter] = atl.notices  # the secretary's mail server files it in the mailbox
            [uid] = await append(dovecot, delivered(letter.raw, to=SECRETARY))
            await at_uid(w, uid)
            await w.idle()
            with w.node.db.read() as s:
                [status] = bridge_ops.status(s, w.node.config.bridges)
    subjects = [(r, str(m.message["Subject"])) for r, m in smarthost.deliveries()]
    told = [(r, s) for r, s in subjects if s.startswith("Your post")]
    assert told == [(ALICE, f"Your post to {FOREIGN} was held: Bus to Atlanta")]
    assert str(status["last_error"]).startswith(f"held by {FOREIGN}: <bus@example.net>")
    assert dovecot.flags() == {uid: set()}  # left in the mailbox, unread, for the secretary


def post_text(subject: str) -> bytes:
    return (
        f"From: Alice <{ALICE}>\r\nTo: team@{DOMAIN}\r\nSubject: {subject}\r\n"
        "Message-ID: <bus@example.net>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
        "Seats left: 4.\r\n"
    ).encode()


def notice(*parts: bytes, head: bytes = b"") -> bytes:
    body = b"".join(b"--n\r\n" + p + b"\r\n" for p in parts) + b"--n--\r\n"
    return (
        b"From: atl-coc-owner@groups.example\r\nSubject: Your message was rejected\r\n"
        b"Message-ID: <notice@groups.example>\r\n" + head + b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="n"\r\n\r\n' + body
    )


def test_what_a_notice_cites() -> None:
    text = b"Content-Type: text/plain\r\n\r\nYou are not allowed to post.\r\n"
    attached = b"Content-Type: message/rfc822\r\n\r\nMessage-ID: <m1@example.net>\r\n\r\nHi.\r\n"
    headers = b"Content-Type: text/rfc822-headers\r\n\r\nFrom: a@b\r\nMessage-ID: <m2@x>\r\n"
    appended = b"Content-Type: text/plain\r\n\r\n---- Original ----\r\nMessage-ID:\r\n <m3@x>\r\n"
    found = cited(notice(text, attached, headers, appended, head=b"In-Reply-To: <m0@x>\r\n"))
    assert found.message_ids == ("m0@x", "m1@example.net", "m2@x", "m3@x")
    assert found.text.strip() == "You are not allowed to post."  # not the returned message
    assert found.subject == "Your message was rejected" and not found.report
    encoded = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    many = encoded + base64.encodebytes(b"".join(b"Message-ID: <%d@x>\n" % i for i in range(500)))
    assert len(cited(notice(many)).message_ids) == MAX_IDS


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1500))
def test_random_notices_never_raise(raw: bytes) -> None:
    found = cited(notice(raw) if raw[:1] == b"C" else raw)
    assert isinstance(found.message_ids, tuple) and len(found.message_ids) <= MAX_IDS
    assert isinstance(found.text, str) and not isinstance(found, Message)
