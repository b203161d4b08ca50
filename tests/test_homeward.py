"""Replies come home (issue 19, item 2): our members' copies of a bridged post name our
list where the foreign list stood in From, Reply-To, To, Cc and Mail-Followup-To, so
that Reply-All reaches our list; the author stays where the foreign list put them."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import getaddresses

import pytest

from listfed.delivery.decorate import decorate
from listfed.delivery.homeward import readdress
from listfed.delivery.subjects import ForeignTag
from listfed.listinfo import ListInfo
from listfed.mail.rawmail import RawMessage
from tests.foreignlist import ForeignList, reply_all

TEAM = ListInfo(id=1, local="team", domain="lists.example.org")
FOREIGN = "atl-coc@groups.example"
ZED = "zed@atl.example"
ALICE = "alice@example.net"
POST = (
    f"From: Zed <{ZED}>\r\nTo: {FOREIGN}\r\nSubject: Day of action\r\n"
    "Message-ID: <day@atl.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n\r\nMeet at noon.\r\n'
).encode()
MAILMAN3 = {
    "none": {"style": "mailman3"},
    "munge, replies to authors": {"style": "mailman3", "dmarc": "munge"},
    "munge, replies to the list": {"style": "mailman3", "dmarc": "munge", "reply_to_list": True},
    "wrap, replies to the list": {"style": "mailman3", "dmarc": "wrap", "reply_to_list": True},
    "sympa, munge": {"style": "sympa", "dmarc": "munge"},
    "mailman 2.1, munge": {"munge_from": True},
}


def read(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def addresses(msg: EmailMessage, *names: str) -> list[str]:
    values = [str(v) for name in names for v in msg.get_all(name) or []]
    return [a.lower() for _, a in getaddresses(values)]


@pytest.mark.parametrize("dmarc", ["", "munge", "wrap"])
@pytest.mark.parametrize("foreign", list(MAILMAN3))
def test_reply_all_on_our_copy_reaches_our_list_and_the_author(foreign: str, dmarc: str) -> None:
    arrived = ForeignList(**MAILMAN3[foreign]).mailmanise(POST)  # type: ignore[arg-type]
    tags = [ForeignTag("[atl-coc]", "[atl-coc]")]
    ours = read(decorate(arrived, TEAM, dmarc=dmarc, foreign=tags, away=[FOREIGN]))
    _, rcpts = reply_all(ours, ALICE, "Count me in.\n")
    assert TEAM.address in rcpts
    assert FOREIGN not in rcpts
    assert ZED in rcpts  # the author stays reachable
    fields = ("From", "Reply-To", "To", "Cc", "Mail-Followup-To")
    assert FOREIGN not in addresses(ours, *fields)


def test_only_fields_that_name_the_foreign_list_change() -> None:
    msg = RawMessage.parse(
        f'From: "Zed via Atl-coc" <{FOREIGN}>\r\n'
        f"Reply-To: Zed <{ZED}>\r\n"
        f"To: {FOREIGN}, {TEAM.address}\r\n"
        "Cc: =?utf-8?q?Zo=C3=AB?= <zoe@atl.example>\r\n"
        f"Mail-Followup-To: {FOREIGN}, {ZED}\r\n\r\nx\r\n".encode()
    )
    untouched = dict(msg.fields)
    readdress(msg, TEAM, [FOREIGN.upper()])
    out = read(msg.to_bytes())
    assert dict(msg.fields)["From"] == f'From: "Zed via Atl-coc" <{TEAM.address}>'.encode()
    assert addresses(out, "To") == [TEAM.address]  # once
    assert addresses(out, "Mail-Followup-To") == [TEAM.address, ZED]
    kept = dict(msg.fields)
    assert kept["Reply-To"] == untouched["Reply-To"] and kept["Cc"] == untouched["Cc"]


def test_a_post_not_taken_in_through_a_bridge_is_not_readdressed() -> None:
    arrived = ForeignList(style="mailman3", dmarc="munge").mailmanise(POST)
    assert decorate(arrived, TEAM, away=[]).count(FOREIGN.encode()) >= 3
