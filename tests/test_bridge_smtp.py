"""The SMTP bridge end to end, over SMTP on loopback: a Mailman-like foreign list
(tests/foreignlist.py) with the bridge address and a foreign member subscribed, a node
whose list is bridged to it, and the recording smarthost standing for the Internet in
between (what the node relays to the foreign list is passed on to it by `Bridged.settle`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlmodel import select

from listfed.archive import opendb
from listfed.archive.search import search
from listfed.db import lists
from listfed.db.models import ArchivedMessage, Held
from listfed.errors import ConfigError
from listfed.listinfo import Policy, Role
from listfed.ops import held as held_ops
from listfed.ops import members
from tests.conftest import (
    DOMAIN,
    Received,
    RecordingSmarthost,
    World,
    make_config,
    post,
    running_world,
)
from tests.foreignlist import ForeignList

LIST = f"team@{DOMAIN}"
OTHER = f"other@{DOMAIN}"
BRIDGE = f"bridge-atl@{DOMAIN}"
NODE = "node.example.org"
FOREIGN = "atl-coc@groups.example"
ALICE = "alice@example.net"
CAROL = "carol@example.net"
OWEN = "owen@example.net"  # the local list's owner
OLGA = "olga@example.net"  # a member of the other local list
ZED = "zed@atl.example"  # a member of the foreign list only
LOCALS = [ALICE, CAROL]


@dataclass(repr=False)
class Bridged:
    """A node with LIST bridged to the foreign list (and maybe to `others`), and the mail
    between them."""

    w: World
    atl: ForeignList
    smarthost: RecordingSmarthost
    # Pass relays on without our X-Listfed-* headers, as a list or gateway that drops
    # unknown headers would: then only the Message-ID or the content shows an echo.
    strip_trace: bool = False
    others: list[ForeignList] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)  # relays handed on, by list

    def got(self, rcpt: str) -> list[EmailMessage]:
        """What the node (or a foreign list) delivered to `rcpt` through the smarthost."""
        return [m.message for r, m in self.smarthost.deliveries() if r.lower() == rcpt.lower()]

    def notices(self, rcpt: str) -> list[EmailMessage]:
        """What reached `rcpt` as a bridge's notice to the owners (not a post)."""
        return [m for m in self.got(rcpt) if "X-Listfed-Bridge" in m]

    def subjects(self, rcpt: str) -> list[str]:
        return [str(m["Subject"]) for m in self.got(rcpt)]

    def relays(self, to: str = FOREIGN) -> list[Received]:
        """What the node sent to a foreign list."""
        return [m for r, m in self.smarthost.deliveries() if r.lower() == to]

    async def settle(self) -> None:
        """Until nothing moves: the node idle, its relays to the foreign lists handed to
        them (as the Internet would), the foreign lists done distributing."""
        foreign = [self.atl, *self.others]
        for _ in range(6):
            await self.w.idle()
            for fl in foreign:
                for relay in self.relays(fl.address)[self.passed.get(fl.address, 0) :]:
                    await aiosmtplib.send(
                        without_listfed_headers(relay.data) if self.strip_trace else relay.data,
                        sender=relay.mail_from,
                        recipients=[fl.address],
                        hostname=fl.host,
                        port=fl.port,
                        start_tls=False,
                        timeout=5,
                    )
                    self.passed[fl.address] = self.passed.get(fl.address, 0) + 1
                await fl.settle()
            await self.w.idle()
            if all(
                len(self.relays(fl.address)) == self.passed.get(fl.address, 0) for fl in foreign
            ):
                return
        raise AssertionError("mail keeps going round between the node and the foreign lists")

    async def local_post(self, subject: str, **kw: Any) -> None:
        sender = kw.pop("sender", ALICE)
        await self.w.send(post(subject, sender=sender, **kw), LIST, mail_from=sender)

    async def foreign_post(
        self, subject: str, body: str = "Hello from Atlanta.\n", **kw: Any
    ) -> bytes:
        return await self.atl.post_from_member(ZED, subject, body, name="Zed", **kw)

    def archived(self, address: str = LIST) -> list[ArchivedMessage]:
        with self.w.node.db.read() as s:
            list_id = lists.get(s, address).id
            return list(s.exec(select(ArchivedMessage).where(ArchivedMessage.list_id == list_id)))

    def held(self) -> list[Held]:
        with self.w.node.db.read() as s:
            return list(s.exec(select(Held)))

    def search(self, query: str) -> list[tuple[str, str]]:
        """(Message-ID, author) of what the archive search finds."""
        path = self.w.node.config.node.data_dir / "listfed.db"
        conn = opendb.connect(path, 5.0, readonly=True)
        try:
            return [(h.message_id, h.sender) for h in search(conn, query).hits]
        finally:
            conn.close()


@asynccontextmanager
async def bridged(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    *,
    foreign: dict[str, Any] | None = None,
    bridge: dict[str, Any] | None = None,
    policy: Policy = Policy.MEMBERS,
    extra_bridges: list[dict[str, Any]] | None = None,
    **sections: Any,
) -> AsyncIterator[Bridged]:
    async with ForeignList(**(foreign or {})) as atl:
        assert atl.address == FOREIGN
        entry = {
            "name": "atl",
            "list": LIST,
            "foreign": FOREIGN,
            "address": BRIDGE,
            **(bridge or {}),
        }
        async with running_world(
            tmp_path, smarthost, bridge=[entry, *(extra_bridges or [])], **sections
        ) as w:
            w.make_list(LIST, policy, LOCALS)
            with w.write() as s:
                members.add(s, LIST, [OWEN], Role.OWNER)
            atl.subscribe(w.bridge_address("atl"), (w.host, w.port))
            atl.allow(BRIDGE)
            atl.subscribe(ZED, ("127.0.0.1", smarthost.port))
            yield Bridged(w, atl, smarthost)


def without_listfed_headers(data: bytes) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            skipping = line.lower().startswith(b"x-listfed-")
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept) + sep + body


def addresses(msg: EmailMessage, name: str) -> list[str]:
    return [a.lower() for _, a in getaddresses([str(v) for v in msg.get_all(name) or []])]


def pipeline_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "listfed.pipeline"]


# 1. in: a foreign member's post


async def test_a_foreign_post_reaches_each_local_member_once_with_the_trace(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost) as b:
        sent = await b.foreign_post("Bus", "The bus leaves at 8.\n")
        await b.settle()

        for member in LOCALS:
            got = b.got(member)
            assert [str(m["Subject"]) for m in got] == ["[team] [atl-coc] Bus"]
            assert got[0].get_all("X-Listfed-Trace") == [f"{NODE} {FOREIGN}"]
            assert "The bus leaves at 8." in got[0].get_body(("plain",)).get_content()
        assert b.got(FOREIGN) == []  # not sent back
        assert b.notices(OWEN) == []
        assert len(b.got(ZED)) == 1  # the foreign list's own copy, nothing from us
        archived = b.archived()
        assert [a.subject for a in archived] == ["[atl-coc] Bus"]
        assert f"<{archived[0].message_id}>" == message_from_bytes(sent)["Message-ID"]


# 2. out: a local member's post, and its echo


FOREIGN_BEHAVIOURS = {  # ForeignList's defaults: From kept, Message-ID kept, base64 body
    "plain": {},
    "munge_from": {"munge_from": True},
    "replace_message_id": {"replace_message_id": True},
    "munge_from+replace_message_id": {"munge_from": True, "replace_message_id": True},
    "quoted-printable": {"body_encoding": "quoted-printable"},
    "base64": {"body_encoding": "base64"},
    "8bit": {"body_encoding": "8bit"},
}


@pytest.mark.parametrize("trace", ["trace kept", "trace dropped"])
@pytest.mark.parametrize("behaviour", list(FOREIGN_BEHAVIOURS))
async def test_a_local_post_goes_to_the_foreign_list_once_and_its_echo_is_dropped(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    caplog: pytest.LogCaptureFixture,
    behaviour: str,
    trace: str,
) -> None:
    caplog.set_level(logging.INFO, logger="listfed.pipeline")
    async with bridged(tmp_path, smarthost, foreign=FOREIGN_BEHAVIOURS[behaviour]) as b:
        b.strip_trace = trace == "trace dropped"
        await b.local_post("Bus plan", body="We take the 8 o'clock bus.\n")
        await b.w.idle()

        [relay] = b.relays()
        assert relay.mail_from == BRIDGE
        out = relay.message
        assert out["From"].addresses[0].display_name == "Alice via team"
        assert out["From"].addresses[0].addr_spec == BRIDGE
        assert addresses(out, "Reply-To") == [ALICE]
        assert addresses(out, "To") == [FOREIGN]
        assert out["Message-ID"] == "<m1@example.net>"
        assert parsedate_to_datetime(str(out["Date"])) is not None

        await b.settle()
        assert b.atl.held == []
        assert sorted(d.subscriber for d in b.atl.distributed) == sorted(
            [b.w.bridge_address("atl"), ZED]
        )
        assert b.subjects(ZED) == ["[atl-coc] Bus plan"]
        for member in LOCALS:
            assert b.subjects(member) == ["[team] Bus plan"]
        assert len(b.relays()) == 1
        assert b.subjects(OWEN) == ["[team] Bus plan"]
        assert [a.message_id for a in b.archived()] == ["m1@example.net"]
        dropped = [line for line in pipeline_log(caplog) if " drop: " in line]
        assert len(dropped) == 1
        assert "echo" in dropped[0]


# The hardest foreign list: it drops our headers, rewrites From, replaces the Message-ID.
WORST = {"munge_from": True, "replace_message_id": True, "body_encoding": "base64"}

MIXED = (
    f"From: Alice <{ALICE}>\r\nTo: {LIST}\r\nSubject: Flyer\r\n"
    "Message-ID: <flyer@example.net>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    '--b1\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\nThe flyer is attached.\r\n'
    '--b1\r\nContent-Type: application/pdf; name="flyer.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)
ALTERNATIVE = (
    f"From: Alice <{ALICE}>\r\nTo: {LIST}\r\nSubject: Flyer\r\n"
    "Message-ID: <flyer@example.net>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b1"\r\n\r\n'
    '--b1\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\nThe flyer is ready.\r\n'
    '--b1\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n'
    "<p>The flyer is ready.</p>\r\n--b1--\r\n"
)
UNICODE = (
    f"From: =?utf-8?q?Al=C3=AFce?= <{ALICE}>\r\nTo: {LIST}\r\n"
    "Subject: =?utf-8?q?Caf=C3=A9_Zo=C3=AB_on_Thursday?=\r\n"
    "Message-ID: <flyer@example.net>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "We meet at the Caf\u00e9 Zo\u00eb.   \r\n\r\n\r\n-- \r\nAl\u00efce\r\n"
)


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "8bit"])
@pytest.mark.parametrize(
    "raw", [MIXED, ALTERNATIVE, UNICODE], ids=["mixed", "alternative", "unicode"]
)
async def test_the_echo_of_a_mime_or_non_ascii_post_is_dropped_by_its_content(
    tmp_path: Path, smarthost: RecordingSmarthost, raw: str, encoding: str
) -> None:
    async with bridged(tmp_path, smarthost, foreign={**WORST, "body_encoding": encoding}) as b:
        b.strip_trace = True
        await b.w.send(raw.encode(), LIST, mail_from=ALICE)
        await b.settle()
        assert len(b.relays()) == 1
        assert len(b.got(ZED)) == 1
        for member in LOCALS:
            assert len(b.got(member)) == 1
        assert len(b.archived()) == 1


def plain(headers: str, body: str = "Short note.\r\n") -> str:
    return f"{headers}To: {LIST}\r\nMessage-ID: <shape@example.net>\r\n\r\n{body}"


DATED = "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
SHAPES = {
    "no date": plain(f"From: Alice <{ALICE}>\r\nSubject: When\r\n"),
    "no subject": plain(f"From: Alice <{ALICE}>\r\n{DATED}"),
    "no display name": plain(f"From: {ALICE}\r\nSubject: Bare\r\n{DATED}"),
    "own reply-to": plain(
        f"From: Alice <{ALICE}>\r\nReply-To: alice-home@example.net\r\nSubject: RT\r\n{DATED}"
    ),
    "empty body": plain(f"From: Alice <{ALICE}>\r\nSubject: Empty\r\n{DATED}", ""),
}


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_odd_local_posts_go_out_well_formed_and_their_echo_is_dropped(
    tmp_path: Path, smarthost: RecordingSmarthost, shape: str
) -> None:
    async with bridged(tmp_path, smarthost, foreign=WORST) as b:
        b.strip_trace = True
        await b.w.send(SHAPES[shape].encode(), LIST, mail_from=ALICE)
        await b.settle()
        [relay] = b.relays()
        out = relay.message
        assert parsedate_to_datetime(str(out["Date"])) is not None
        assert out["From"].addresses[0].addr_spec == BRIDGE
        home = "alice-home@example.net" if shape == "own reply-to" else ALICE
        assert addresses(out, "Reply-To") == [home]
        assert len(b.got(ZED)) == 1
        assert b.atl.held == []
        for member in LOCALS:
            assert len(b.got(member)) == 1
        assert len(b.archived()) == 1


async def test_a_conversation_across_the_bridge_reaches_everyone_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, foreign=WORST) as b:
        b.strip_trace = True
        await b.foreign_post("Bus", "The bus leaves at 8.\n")
        await b.settle()
        [first] = b.got(ALICE)
        await b.local_post(
            "Re: [team] [atl-coc] Bus",
            body="Can it leave at 9?\n",
            message_id="<r1@example.net>",
            extra=f"In-Reply-To: {first['Message-ID']}\r\nReferences: {first['Message-ID']}\r\n",
        )
        await b.settle()
        [_, reply] = b.got(ZED)
        await b.foreign_post(
            "Re: [atl-coc] Re: [team] Bus", "9 is fine.\n", in_reply_to=str(reply["Message-ID"])
        )
        await b.settle()

        assert len(b.relays()) == 1  # only Alice's reply went out
        assert len(b.got(ZED)) == 3
        for member in LOCALS:
            got = b.got(member)
            assert len(got) == 3
            assert "9 is fine." in got[2].get_body(("plain",)).get_content()
        assert len(b.archived()) == 3


# 3. a foreign reply to a bridged local post


async def test_a_foreign_reply_to_a_bridged_local_post_appears_once_in_its_thread(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, foreign={"munge_from": True}) as b:
        await b.local_post("Bus plan", body="We take the 8 o'clock bus.\n")
        await b.settle()
        await b.foreign_post(
            "Re: [atl-coc] Bus plan", "Count me in.\n", in_reply_to="<m1@example.net>"
        )
        await b.settle()

        for member in LOCALS:
            got = b.got(member)
            assert [str(m["Subject"]) for m in got] == [
                "[team] Bus plan",
                "Re: [team] [atl-coc] Bus plan",  # one Re:, before our prefix (issue 19)
            ]
            assert "Count me in." in got[1].get_body(("plain",)).get_content()
        assert len(b.relays()) == 1  # the reply is not sent back
        archived = b.archived()
        assert len(archived) == 2
        assert {a.thread_id for a in archived} == {"m1@example.net"}


# 4. what is not a post of the foreign list goes to the owners


CONFIRM = (
    "From: atl-coc-request@groups.example\r\n"
    f"To: {BRIDGE}\r\n"
    "Subject: confirm 1234abcd\r\n"
    "Message-ID: <confirm-1@groups.example>\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "\r\n"
    "Reply to this message to confirm your subscription to atl-coc.\r\n"
)
WELCOME = (
    "From: atl-coc-request@groups.example\r\n"
    f"To: {BRIDGE}\r\n"
    'Subject: Welcome to the "atl-coc" mailing list\r\n'
    "List-Id: <atl-coc.groups.example>\r\n"
    "List-Post: <mailto:atl-coc@groups.example>\r\n"
    "Message-ID: <welcome-1@groups.example>\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "\r\n"
    "Welcome to the atl-coc mailing list!\r\n"
)
RANDOM = (
    "From: Spammer <sales@spam.example>\r\n"
    f"To: {BRIDGE}\r\n"
    "Subject: Cheap watches\r\n"
    "Message-ID: <spam-1@spam.example>\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "\r\n"
    "Buy now.\r\n"
)


@pytest.mark.parametrize(
    ("raw", "mail_from", "subject"),
    [
        (CONFIRM, "atl-coc-bounces@groups.example", "confirm 1234abcd"),
        (WELCOME, "atl-coc-bounces@groups.example", 'Welcome to the "atl-coc" mailing list'),
        (RANDOM, "sales@spam.example", "Cheap watches"),
    ],
    ids=["confirmation", "welcome", "random"],
)
async def test_mail_to_the_bridge_that_is_not_a_post_goes_to_the_owners_only(
    tmp_path: Path, smarthost: RecordingSmarthost, raw: str, mail_from: str, subject: str
) -> None:
    async with bridged(tmp_path, smarthost) as b:
        await b.w.send(raw.encode(), BRIDGE, mail_from=mail_from)
        await b.settle()

        [got] = b.got(OWEN)
        assert len(b.notices(OWEN)) == 1
        assert got["Subject"] == subject
        assert str(got["X-Listfed-Bridge"]).startswith("atl; not posted: ")
        assert got["X-Listfed-Owner"] == LIST
        assert sorted({r for r, _ in smarthost.deliveries()}) == [OWEN]
        assert b.archived() == []
        assert b.held() == []


# 5. direction


async def test_direction_in_takes_foreign_posts_but_sends_nothing_out(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, bridge={"direction": "in"}) as b:
        await b.local_post("Local only")
        await b.foreign_post("From Atlanta")
        await b.settle()
        assert b.relays() == []
        assert b.subjects(ZED) == ["[atl-coc] From Atlanta"]
        for member in LOCALS:
            assert b.subjects(member) == ["[team] Local only", "[team] [atl-coc] From Atlanta"]


async def test_direction_out_sends_local_posts_but_takes_nothing_in(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, bridge={"direction": "out"}) as b:
        await b.foreign_post("From Atlanta")
        await b.settle()
        for member in [*LOCALS, OWEN]:
            assert b.got(member) == []
        assert b.archived() == []

        await b.local_post("To Atlanta")
        await b.settle()
        assert len(b.relays()) == 1
        assert b.subjects(ZED) == ["[atl-coc] From Atlanta", "[atl-coc] To Atlanta"]
        for member in LOCALS:
            assert b.subjects(member) == ["[team] To Atlanta"]  # and not its echo
        assert [a.subject for a in b.archived()] == ["To Atlanta"]


# 6. match


async def test_match_sends_only_the_tagged_local_posts(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    match = {"match": {"subject_tag": "regional"}}
    async with bridged(tmp_path, smarthost, bridge=match) as b:
        await b.local_post("[regional] Caravan")
        await b.local_post("Potluck", message_id="<m2@example.net>")
        await b.settle()
        assert [str(r.message["Subject"]) for r in b.relays()] == ["[regional] Caravan"]
        assert b.subjects(ZED) == ["[atl-coc] [regional] Caravan"]
        for member in LOCALS:
            assert sorted(b.subjects(member)) == ["[team] Potluck", "[team] [regional] Caravan"]


# 7. the bridge's list is missing


async def test_the_bridge_address_is_refused_while_its_list_does_not_exist(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    entry = {"name": "atl", "list": LIST, "foreign": FOREIGN, "address": BRIDGE}
    async with running_world(tmp_path, smarthost, bridge=[entry]) as w:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await w.send(WELCOME.encode(), BRIDGE, mail_from="atl-coc-bounces@groups.example")
        assert [r.code for r in refused.value.recipients] == [550]
        w.make_list(LIST, Policy.MEMBERS, LOCALS)
        await w.send(WELCOME.encode(), BRIDGE, mail_from="atl-coc-bounces@groups.example")


# 8. a moderated list


async def test_a_moderated_list_holds_the_foreign_post(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, policy=Policy.MODERATED) as b:
        await b.foreign_post("Needs a moderator")
        await b.settle()
        assert [h.subject for h in b.held()] == ["[atl-coc] Needs a moderator"]
        for member in LOCALS:
            assert b.got(member) == []
        assert b.relays() == []
        assert b.archived() == []


async def test_an_approved_foreign_post_reaches_the_members_once_and_is_not_sent_back(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, policy=Policy.MODERATED) as b:
        await b.foreign_post("Needs a moderator")
        await b.settle()
        [row] = b.held()
        with b.w.write() as s:
            assert row.id is not None
            held_ops.approve(s, row.id)
        await b.settle()
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [atl-coc] Needs a moderator"]
        assert b.relays() == []
        assert len(b.archived()) == 1


async def test_an_approved_local_post_on_a_moderated_list_goes_out_once_without_echo(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, policy=Policy.MODERATED, foreign=WORST) as b:
        b.strip_trace = True
        await b.local_post("Agenda")
        await b.settle()
        assert b.relays() == []
        [row] = b.held()
        with b.w.write() as s:
            assert row.id is not None
            held_ops.approve(s, row.id)
        await b.settle()
        assert len(b.relays()) == 1
        assert b.subjects(ZED) == ["[atl-coc] Agenda"]
        for member in LOCALS:
            posts = [x for x in b.subjects(member) if x.startswith("[team]")]
            assert posts == ["[team] Agenda"]
        assert b.held() == []


async def test_the_same_foreign_post_delivered_twice_is_posted_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost) as b:
        await b.foreign_post("Bus")
        await b.settle()
        [copy] = [d for d in b.atl.distributed if d.subscriber == b.w.bridge_address("atl")]
        await b.w.send(copy.raw, b.w.bridge_address("atl"), mail_from=copy.mail_from)
        await b.settle()
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [atl-coc] Bus"]
        assert len(b.archived()) == 1


async def test_the_bridge_address_is_taken_in_any_case(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost) as b:
        b.atl.unsubscribe(b.w.bridge_address("atl"))
        await b.foreign_post("Shouting")
        [copy] = b.atl.distributed  # Zed's: as the bridge would have had it
        # an MTA that folds case: the tag still proves it
        await b.w.send(copy.raw, b.w.bridge_address("atl").upper(), mail_from=copy.mail_from)
        await b.settle()
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [atl-coc] Shouting"]


async def test_a_post_routed_from_another_local_list_goes_out_once_without_echo(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    route = {"name": "up", "from": OTHER, "to": [LIST], "match": {"any": True}}
    async with bridged(tmp_path, smarthost, foreign=WORST, route=[route]) as b:
        b.strip_trace = True
        b.w.make_list(OTHER, Policy.MEMBERS, [OLGA])
        await b.w.send(post("Housing", sender=OLGA, to=OTHER), OTHER, mail_from=OLGA)
        await b.settle()
        assert b.subjects(OLGA) == ["[other] Housing"]
        for member in LOCALS:
            assert b.subjects(member) == ["[team] Housing"]
        assert b.subjects(ZED) == ["[atl-coc] Housing"]
        assert len(b.relays()) == 1


# 9. a route from the bridged list


async def test_a_route_passes_a_foreign_post_on_to_another_local_list_but_not_back(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    route = {"name": "fwd", "from": LIST, "to": [OTHER], "match": {"any": True}}
    async with bridged(tmp_path, smarthost, route=[route]) as b:
        b.w.make_list(OTHER, Policy.MEMBERS, [OLGA])
        await b.foreign_post("Caravan")
        await b.settle()
        assert b.subjects(OLGA) == ["[other] [atl-coc] Caravan"]
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [atl-coc] Caravan"]
        assert b.relays() == []
        assert len(b.archived(OTHER)) == 1


# 10. reload


async def test_a_bridge_added_by_reload_takes_its_address(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with ForeignList() as atl, running_world(tmp_path, smarthost) as w:
        w.make_list(LIST, Policy.MEMBERS, LOCALS)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await w.send(WELCOME.encode(), BRIDGE, mail_from="atl-coc-bounces@groups.example")
        assert [r.code for r in refused.value.recipients] == [550]

        entry = {"name": "atl", "list": LIST, "foreign": FOREIGN, "address": BRIDGE}
        w.node.reload(make_config(tmp_path, smarthost.port, bridge=[entry]))
        atl.subscribe(w.bridge_address("atl"), (w.host, w.port))
        atl.allow(BRIDGE)
        atl.subscribe(ZED, ("127.0.0.1", smarthost.port))
        b = Bridged(w, atl, smarthost)
        await b.foreign_post("After the reload")
        await b.settle()
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [atl-coc] After the reload"]
        await b.local_post("Hello Atlanta")
        await b.settle()
        assert b.subjects(ZED) == ["[atl-coc] After the reload", "[atl-coc] Hello Atlanta"]

        w.node.reload(make_config(tmp_path, smarthost.port))
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await w.send(WELCOME.encode(), BRIDGE, mail_from="atl-coc-bounces@groups.example")
        assert [r.code for r in refused.value.recipients] == [550]
        await b.local_post("Not to Atlanta", message_id="<m2@example.net>")
        await b.settle()
        assert len(b.relays()) == 1


# more


async def test_an_echo_that_comes_back_after_a_restart_is_still_dropped(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    entry = {"name": "atl", "list": LIST, "foreign": FOREIGN, "address": BRIDGE}
    async with ForeignList(**WORST) as atl:
        async with running_world(tmp_path, smarthost, bridge=[entry]) as w:
            w.make_list(LIST, Policy.MEMBERS, LOCALS)
            await w.send(post("Before the restart"), LIST)
            await w.idle()
        # the relay reaches the foreign list only now, and its echo the new node
        async with running_world(tmp_path, smarthost, bridge=[entry]) as w:
            atl.subscribe(w.bridge_address("atl"), (w.host, w.port))
            atl.allow(BRIDGE)
            atl.subscribe(ZED, ("127.0.0.1", smarthost.port))
            b = Bridged(w, atl, smarthost, strip_trace=True)
            await b.settle()
            assert b.subjects(ZED) == ["[atl-coc] Before the restart"]
            for member in LOCALS:
                assert b.subjects(member) == ["[team] Before the restart"]


async def test_two_bridges_on_one_list_pass_each_others_posts_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    nyc_coc, nyc_bridge, nick = "nyc-coc@groups.example", f"bridge-nyc@{DOMAIN}", "nick@nyc.example"
    second = {"name": "nyc", "list": LIST, "foreign": nyc_coc, "address": nyc_bridge}
    async with ForeignList(name="nyc-coc", **WORST) as nyc:
        async with bridged(tmp_path, smarthost, foreign=WORST, extra_bridges=[second]) as b:
            b.strip_trace = True
            b.others.append(nyc)
            nyc.subscribe(nyc_bridge, (b.w.host, b.w.port))
            nyc.subscribe(nick, ("127.0.0.1", smarthost.port))
            await b.foreign_post("From Atlanta")
            await b.settle()
            assert b.subjects(nick) == ["[nyc-coc] [atl-coc] From Atlanta"]
            assert b.subjects(ZED) == ["[atl-coc] From Atlanta"]
            for member in LOCALS:
                assert b.subjects(member) == ["[team] [atl-coc] From Atlanta"]
            assert b.relays() == []
            assert len(b.relays(nyc_coc)) == 1


async def test_a_bridge_whose_list_is_written_with_capitals_works_both_ways(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, bridge={"list": f"Team@{DOMAIN}"}) as b:
        await b.local_post("Out")
        await b.settle()
        await b.foreign_post("In")
        await b.settle()
        assert b.subjects(ZED) == ["[atl-coc] Out", "[atl-coc] In"]
        assert b.atl.failures == []
        for member in LOCALS:
            assert b.subjects(member) == ["[team] Out", "[team] [atl-coc] In"]


async def test_a_bridge_address_that_is_the_lists_own_address_does_not_swallow_its_posts(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    # Subscribing "the list" to the foreign list is the natural first try. Either the
    # configuration is refused, or the list keeps working; never its posts diverted.
    # It is refused up front, with the list's robot addresses, as a config error.
    for address in (LIST, f"team-owner@{DOMAIN}", f"TEAM-request@{DOMAIN}"):
        entry = {"name": "atl", "list": LIST, "foreign": FOREIGN, "address": address}
        with pytest.raises(ConfigError, match="an address of its own list") as info:
            make_config(tmp_path, smarthost.port, bridge=[entry])
        assert info.value.key == "bridge[0].address"
