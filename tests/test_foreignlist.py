"""The Mailman-like foreign list of the bridge tests, against a plain aiosmtpd sink."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest

from tests.conftest import RecordingSmarthost
from tests.foreignlist import ForeignList

ANN = "ann@atl.example"
BOB = "bob@atl.example"
BRIDGE = "bridge-atl@lists.philly.example"
WAIT = 5.0


def post(
    sender: str = ANN,
    subject: str = "Bus to the march",
    body: str = "The bus leaves at 8.\n",
    msgid: str = "<bus-1@atl.example>",
) -> bytes:
    return (
        f"From: Ann Lee <{sender}>\nTo: atl-coc@groups.example\nSubject: {subject}\n"
        f"Date: Tue, 04 Mar 2025 18:30:05 -0500\nMessage-ID: {msgid}\n"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{body}"
    ).encode()


@pytest.fixture
async def atl(smarthost: RecordingSmarthost) -> AsyncIterator[ForeignList]:
    async with ForeignList(timeout=WAIT) as fl:
        fl.subscribe(ANN, ("127.0.0.1", smarthost.port))
        fl.subscribe(BRIDGE, ("127.0.0.1", smarthost.port))
        yield fl


async def send(fl: ForeignList, raw: bytes, mail_from: str = ANN, rcpt: str = "") -> None:
    await aiosmtplib.send(
        raw,
        sender=mail_from,
        recipients=[rcpt or fl.address],
        hostname="127.0.0.1",
        port=fl.port,
        timeout=WAIT,
        start_tls=False,
    )


def one(fl: ForeignList, subscriber: str = BRIDGE) -> EmailMessage:
    [copy] = [d for d in fl.distributed if d.subscriber == subscriber]
    return copy.message


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


async def test_post_is_distributed_with_mailmans_changes(
    atl: ForeignList, smarthost: RecordingSmarthost
) -> None:
    await send(atl, post(body="Der Bus fährt um 8.\n"))
    await atl.settle()
    assert len(atl.received) == 1
    assert sorted(d.subscriber for d in atl.distributed) == [ANN, BRIDGE]
    assert {(r, m.mail_from) for r, m in smarthost.deliveries()} == {
        (ANN, "atl-coc-bounces@groups.example"),
        (BRIDGE, "atl-coc-bounces@groups.example"),
    }
    msg = one(atl)
    assert msg["Subject"] == "[atl-coc] Bus to the march"
    assert msg["From"] == f"Ann Lee <{ANN}>"
    assert msg["Message-ID"] == "<bus-1@atl.example>"
    assert msg["List-Id"] == "<atl-coc.groups.example>"
    assert msg["List-Post"] == "<mailto:atl-coc@groups.example>"
    assert msg["Precedence"] == "list"
    assert next(iter(msg.keys())) == "Received"
    assert "by groups.example" in msg["Received"]
    assert not msg.is_multipart()
    assert msg["Content-Transfer-Encoding"] == "base64"
    body = text_of(msg)
    assert body.startswith("Der Bus fährt um 8.\n______")
    assert body.endswith("https://groups.example/mailman/listinfo/atl-coc\n")


async def test_other_addresses_refused_at_rcpt(atl: ForeignList) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await send(atl, post(), rcpt="atl-coc-owner@groups.example")
    assert err.value.recipients[0].code == 550
    assert atl.received == []


async def test_non_member_is_held(atl: ForeignList, smarthost: RecordingSmarthost) -> None:
    await send(atl, post(sender="carol@elsewhere.example"))
    await atl.settle()
    assert [(h.sender, h.reason) for h in atl.held] == [("carol@elsewhere.example", "non-member")]
    assert atl.distributed == []
    assert smarthost.received == []


async def test_membership_is_judged_on_from_not_envelope(atl: ForeignList) -> None:
    await send(atl, post(sender="carol@elsewhere.example"), mail_from=BRIDGE)
    await atl.settle()
    assert [h.reason for h in atl.held] == ["non-member"]
    atl.member_fields = ("from", "envelope")  # as Mailman 3 can be configured
    await send(atl, post(sender="carol@elsewhere.example", msgid="<c2@x>"), mail_from=BRIDGE)
    await atl.settle()
    assert len(atl.distributed) == 2


async def test_from_munged_for_dmarc(atl: ForeignList) -> None:
    atl.munge_from = True
    await send(atl, post())
    await atl.settle()
    [copy] = [d for d in atl.distributed if d.subscriber == BRIDGE]
    assert b'\nFrom: "Ann Lee via atl-coc" <atl-coc@groups.example>\n' in copy.raw
    assert copy.message["Reply-To"] == f"Ann Lee <{ANN}>"


async def test_message_id_replaced_when_asked(atl: ForeignList) -> None:
    atl.replace_message_id = True
    await send(atl, post())
    await atl.settle()
    new = one(atl)["Message-ID"]
    assert new != "<bus-1@atl.example>"
    assert new.endswith("@groups.example>")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [atl-coc] Bus to the march", "[atl-coc] Re: Bus to the march"),
        ("[atl-coc] Re: Bus to the march", "[atl-coc] Re: Bus to the march"),
        ("RE: Re: [ATL-COC] Bus", "[atl-coc] Re: Bus"),
        ("[atl-coc] Bus", "[atl-coc] Bus"),
        ("[atl-coc]", "[atl-coc] (no subject)"),
        ("=?utf-8?q?Caf=C3=A9_at_8?=", "[atl-coc] Café at 8"),
    ],
)
async def test_subject_prefix_not_doubled(atl: ForeignList, subject: str, expected: str) -> None:
    await send(atl, post(subject=subject))
    await atl.settle()
    assert one(atl)["Subject"] == expected


async def test_multipart_post_gets_footer_part(atl: ForeignList) -> None:
    raw = (
        f"From: {ANN}\nTo: atl-coc@groups.example\nSubject: flyer\nMessage-ID: <f@x>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=BB\n\n"
        "--BB\nContent-Type: text/plain; charset=utf-8\n\nSee the flyer.\n"
        "--BB\nContent-Type: text/html; charset=utf-8\n\n<p>See the flyer.</p>\n--BB--\n"
    ).encode()
    await send(atl, raw)
    await atl.settle()
    msg = one(atl)
    assert msg.get_content_type() == "multipart/mixed"
    first, footer = msg.iter_parts()
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
    assert text_of(msg).strip() == "See the flyer."
    assert footer.get_content().startswith("______")


async def test_mixed_post_gets_footer_appended(atl: ForeignList) -> None:
    raw = (
        f"From: {ANN}\nTo: atl-coc@groups.example\nSubject: minutes\nMessage-ID: <m@x>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n\n"
        "--BB\nContent-Type: text/plain\n\nMinutes attached.\n"
        "--BB\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=m.pdf\n"
        "Content-Transfer-Encoding: base64\n\nJVBERg==\n--BB--\n"
    ).encode()
    await send(atl, raw)
    await atl.settle()
    parts = list(one(atl).iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/pdf", "text/plain"]
    assert parts[2].get_content().startswith("______")


async def test_member_post_and_deliver_callback(smarthost: RecordingSmarthost) -> None:
    mailbox: list[tuple[str, bytes]] = []

    async def deliver(address: str, raw: bytes) -> None:
        mailbox.append((address, raw))

    async with ForeignList(deliver=deliver, munge_from=True, timeout=WAIT) as atl:
        atl.subscribe(BOB)  # its copies go to the mailbox
        atl.subscribe("secretary@philly.example")
        atl.subscribe(ANN, ("127.0.0.1", smarthost.port))
        raw = await atl.post_from_member(BOB, "Re: [atl-coc] Bus", "I'll drive.\n", name="Bob")
        assert b"Subject: Re: [atl-coc] Bus" in raw
        assert sorted(a for a, _ in mailbox) == [BOB, "secretary@philly.example"]
        assert [r for r, _ in smarthost.deliveries()] == [ANN]
        msg = one(atl, "secretary@philly.example")
        assert msg["Subject"] == "[atl-coc] Re: Bus"
        [author] = msg["From"].addresses
        assert (author.display_name, author.addr_spec) == ("Bob via atl-coc", atl.address)
        assert msg["Reply-To"].addresses[0].addr_spec == BOB
        assert text_of(msg).startswith("I'll drive.\n______")
        await atl.post_from_member("stranger@x.example", "hi", "hello\n")
        assert [h.sender for h in atl.held] == ["stranger@x.example"]
        assert len(atl.distributed) == 3


async def test_failed_subscriber_is_recorded(atl: ForeignList) -> None:
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    atl.subscribe("gone@atl.example", ("127.0.0.1", dead))
    await send(atl, post())
    await atl.wait_until(lambda: len(atl.distributed) + len(atl.failures) == 3)
    assert [s for s, _ in atl.failures] == ["gone@atl.example"]


async def test_own_loop_header_is_held(atl: ForeignList) -> None:
    raw = post().replace(b"Subject:", b"X-BeenThere: atl-coc@groups.example\nSubject:")
    await send(atl, raw)
    await atl.settle()
    assert [h.reason for h in atl.held] == ["loop"]


# Mailman 3 and Sympa (tests/liststyles.py)

OURS = (
    f'From: "Alice via team" <{BRIDGE}>\nReply-To: Alice <alice@example.net>\n'
    "To: atl-coc@groups.example\nSubject: Re: Bus to the march\n"
    "Date: Tue, 04 Mar 2025 18:30:05 -0500\nMessage-ID: <m1@example.net>\n"
    "X-Listfed-Trace: node.example.org team@lists.example.org\n"
    'MIME-Version: 1.0\nContent-Type: text/plain; charset="utf-8"\n\nWe leave at 8.\n'
).encode()


def mailman3(**options: object) -> EmailMessage:
    raw = ForeignList(style="mailman3", **options).mailmanise(OURS)  # type: ignore[arg-type]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_mailman3_munges_from_and_points_replies_at_itself() -> None:
    msg = mailman3(dmarc="munge", reply_to_list=True)
    assert msg["From"].addresses[0].display_name == "Alice via team via Atl-coc"
    assert msg["From"].addresses[0].addr_spec == "atl-coc@groups.example"
    # cook-headers adds the list after the poster's own Reply-To; dmarc puts From in Cc
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == [
        "alice@example.net",
        "atl-coc@groups.example",
    ]
    assert [a.addr_spec for a in msg["Cc"].addresses] == [BRIDGE]
    assert msg["Subject"] == "[Atl-coc] Re: Bus to the march"
    assert msg["Message-ID"] == "<m1@example.net>"
    assert msg["X-Listfed-Trace"] == "node.example.org team@lists.example.org"
    assert msg["X-Mailman-Version"] == "3.3.10"
    assert "Atl-coc mailing list -- atl-coc@groups.example" in text_of(msg)


def test_mailman3_munge_without_reply_to_munging_puts_from_in_reply_to() -> None:
    msg = mailman3(dmarc="munge")
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["alice@example.net", BRIDGE]
    assert msg["Cc"] is None


@pytest.mark.parametrize("text", ["", "Wrapped because of the author's DMARC policy."])
def test_mailman3_wraps_the_post_whole_under_a_new_message_id(text: str) -> None:
    msg = mailman3(dmarc="wrap", reply_to_list=True, wrapped_text=text)
    assert msg["Message-ID"] != "<m1@example.net>"
    assert msg["X-Listfed-Trace"] is None  # not among the wrapper's keepers
    assert msg["From"].addresses[0].addr_spec == "atl-coc@groups.example"
    assert [a.addr_spec for a in msg["Cc"].addresses] == [BRIDGE]
    assert msg.get_content_type() == "multipart/mixed"
    kinds = [p.get_content_type() for p in msg.iter_parts()]
    assert kinds == (["text/plain"] if text else []) + ["message/rfc822", "text/plain"]
    [inner] = [p for p in msg.iter_parts() if p.get_content_type() == "message/rfc822"]
    post = inner.get_content()
    assert post["Message-ID"] == "<m1@example.net>"
    assert post["X-Listfed-Trace"] == "node.example.org team@lists.example.org"
    assert post["Subject"] == "[Atl-coc] Re: Bus to the march"


def test_sympa_tags_once_and_puts_its_footer_in_a_part() -> None:
    raw = ForeignList(style="sympa", dmarc="munge").mailmanise(OURS)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[atl-coc] Re: Bus to the march"
    assert msg["X-Loop"] == "atl-coc@groups.example"
    assert msg["X-Original-From"] == f'"Alice via team" <{BRIDGE}>'
    assert msg["Message-ID"] == "<m1@example.net>"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/plain"]
