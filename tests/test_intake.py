"""Intake edges over raw sockets: smuggling, malformed mail, LMTP per-recipient replies."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import select

from listfed.db import spooled
from listfed.db.models import ArchivedMessage, QueueItem
from listfed.listinfo import Policy
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world

TEAM = f"team@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net"]


class Dialogue:
    """A line-by-line SMTP/LMTP client, for what a library client would refuse to send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Dialogue:
        reader, writer = await asyncio.open_connection(host, port)
        d = cls(reader, writer)
        await d.reply()
        return d

    async def reply(self) -> list[str]:
        lines = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode().rstrip()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    async def say(self, data: bytes) -> list[str]:
        self.writer.write(data)
        await self.writer.drain()
        return await self.reply()

    async def close(self) -> None:
        self.writer.write(b"QUIT\r\n")
        await self.writer.drain()
        self.writer.close()


SMUGGLING_ENDS = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\n.\r"]


@pytest.mark.parametrize("fake_end", SMUGGLING_ENDS, ids=repr)
async def test_smuggled_end_of_data_never_makes_two_messages(world: World, fake_end: bytes) -> None:
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    d = await Dialogue.open(world.host, world.port)
    await d.say(b"EHLO client.example\r\n")
    await d.say(b"MAIL FROM:<alice@example.net>\r\n")
    await d.say(f"RCPT TO:<{TEAM}>\r\n".encode())
    assert (await d.say(b"DATA\r\n"))[0].startswith("354")
    smuggled = (
        b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<" + TEAM.encode() + b">\r\nDATA\r\n"
        b"Subject: smuggled\r\nMessage-ID: <evil@x>\r\n\r\nevil"
    )
    body = (
        b"Subject: honest\r\nMessage-ID: <honest@x>\r\n\r\nfirst part"
        + fake_end
        + smuggled
        + b"\r\n.\r\n"
    )
    replies = await d.say(body)
    await d.close()
    assert replies[0].startswith("250")
    with world.node.db.read() as s:
        items = s.exec(select(QueueItem)).all()
        assert len(items) == 1
        stored = spooled.raw(s, items[0].spooled_id)
    assert b"smuggled" in stored and items[0].message_id == "honest@x"
    await world.idle()
    with world.node.db.read() as s:
        assert [a.message_id for a in s.exec(select(ArchivedMessage))] == ["honest@x"]


MALFORMED = {
    "unknown charset": b"From: a <alice@example.net>\r\nSubject: =?x-klingon?q?qapla?=\r\n"
    b"Message-ID: <cs@x>\r\nContent-Type: text/plain; charset=x-klingon\r\n"
    b"\r\nnuqneH\r\n",
    "broken MIME": b"From: alice@example.net\r\nSubject: broken\r\nMessage-ID: <mime@x>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--nothing\r\n"
    b"Content-Type: text/plain\r\n\r\nhalf a part\r\n",
    "no Message-ID": b"From: alice@example.net\r\nSubject: who am I\r\n\r\nno id here\r\n",
    "8-bit headers": "From: Zoë <alice@example.net>\r\nSubject: café über\r\n"
    "Message-ID: <8bit@x>\r\n\r\nbody ü\r\n".encode(),
    "no body": b"From: alice@example.net\r\nSubject: empty\r\nMessage-ID: <empty@x>\r\n\r\n",
    "headers only garbage": b"this is not a header at all\r\n\r\n\x00\x01\xff\r\n",
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_message_is_delivered_not_lost(world: World, name: str) -> None:
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    await world.send(MALFORMED[name], TEAM)
    await world.idle()
    assert world.smarthost is not None
    got = world.smarthost.deliveries()
    assert sorted(r for r, _ in got) == PEOPLE
    with world.node.db.read() as s:
        archived = s.exec(select(ArchivedMessage)).one()
        assert s.exec(select(QueueItem)).all() == []
    delivered = got[0][1].message
    assert delivered["List-Id"] == f"<team.{DOMAIN}>"
    assert delivered["Message-ID"].strip("<>") == archived.message_id


async def test_lmtp_answers_once_per_recipient(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, smtp={"lmtp": True}) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE)
        w.make_list(f"other@{DOMAIN}", Policy.OPEN, people=PEOPLE)
        d = await Dialogue.open(w.host, w.port)
        assert (await d.say(b"LHLO mta.example\r\n"))[-1].startswith("250")
        await d.say(b"MAIL FROM:<alice@example.net>\r\n")
        await d.say(f"RCPT TO:<{TEAM}>\r\n".encode())
        await d.say(f"RCPT TO:<other@{DOMAIN}>\r\n".encode())
        await d.say(b"DATA\r\n")
        d.writer.write(post() + b"\r\n.\r\n")
        await d.writer.drain()
        first = await d.reply()
        second = await d.reply()
        await d.close()
        assert first[0].startswith("250") and TEAM in first[0]
        assert second[0].startswith("250") and f"other@{DOMAIN}" in second[0]
        await w.idle()
        assert len(smarthost.deliveries()) == 4  # two lists, two members each


async def test_null_sender_is_accepted_and_never_answered(world: World) -> None:
    world.make_list(TEAM, people=PEOPLE, nonmember_action="reject")
    d = await Dialogue.open(world.host, world.port)
    await d.say(b"EHLO mta.example\r\n")
    assert (await d.say(b"MAIL FROM:<>\r\n"))[0].startswith("250")
    assert (await d.say(f"RCPT TO:<{TEAM}>\r\n".encode()))[0].startswith("250")
    await d.say(b"DATA\r\n")
    raw = post(sender="mailer-daemon@example.com")
    assert (await d.say(raw + b"\r\n.\r\n"))[0].startswith("250")
    await d.close()
    await world.idle()
    assert world.smarthost is not None and world.smarthost.received == []


async def test_stop_lets_a_transaction_in_flight_finish(world: World) -> None:
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    d = await Dialogue.open(world.host, world.port)
    await d.say(b"EHLO client.example\r\n")
    await d.say(b"MAIL FROM:<alice@example.net>\r\n")
    await d.say(f"RCPT TO:<{TEAM}>\r\n".encode())
    await d.say(b"DATA\r\n")
    d.writer.write(post()[:40])  # half a message when the stop comes
    await d.writer.drain()
    stopping = asyncio.create_task(world.node.stop(grace=10))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # it waits for us
    with pytest.raises(ConnectionRefusedError):  # no new connections meanwhile
        await asyncio.wait_for(asyncio.open_connection(world.host, world.port), 2)
    assert (await d.say(post()[40:] + b"\r\n.\r\n"))[0].startswith("250")
    # then the session ends: a further command gets 421, or (when the stop's poll sees
    # the transaction over first) finds the connection closed; either way, nothing taken
    try:
        after = (await d.say(b"MAIL FROM:<alice@example.net>\r\n"))[0]
    except ConnectionError:
        after = ""
    assert after.startswith("421") or after == ""
    d.writer.close()
    await asyncio.wait_for(stopping, 10)
    from listfed.db.engine import Database

    db = Database(world.node.db.path)
    with db.read() as s:
        queued = s.exec(select(QueueItem.message_id)).all()
        archived = s.exec(select(ArchivedMessage.message_id)).all()
    assert [*queued, *archived] == ["m1@example.net"]  # stored once, queued or processed
    db.close()


async def test_listening_on_a_taken_port_is_a_clear_error(
    tmp_path: Path, smarthost: RecordingSmarthost, world: World
) -> None:
    from listfed.errors import ListfedError
    from listfed.ops.node import prepare
    from listfed.service import Node
    from tests.conftest import make_config

    config = make_config(
        tmp_path / "second", smarthost.port, smtp={"listen": f"127.0.0.1:{world.port}"}
    )
    prepare(config)
    node = Node(config)
    with pytest.raises(ListfedError, match=r"cannot listen on 127\.0\.0\.1"):
        await node.start()
    await node.stop(grace=0)


async def test_ids_in_replies_and_logs_are_never_given_twice(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The queue empties between two posts: the second is not "queued as 1" again, nor
    delivered as d1 again (SQLite would reuse the largest rowid once its row is gone)."""
    caplog.set_level(logging.INFO, logger="listfed")
    world.make_list(TEAM, Policy.OPEN, people=["bob@example.net"])
    replies, deliveries = [], []
    for n in range(3):
        _errors, reply = await world.send(post(f"Post {n}", message_id=f"<p{n}@x>"), TEAM)
        await world.idle()
        replies.append(reply)
    for record in caplog.records:
        found = re.search(r" (d\d+): 1 accepted", record.getMessage())
        if found:
            deliveries.append(found.group(1))
    assert len(set(replies)) == 3, replies
    assert len(deliveries) == 3 and len(set(deliveries)) == 3, deliveries


async def test_every_message_taken_in_carries_the_nodes_received_field(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """RFC 5321 §4.4: listfed's own hop, as any MTA writes it; a HELO that is not a
    host name is not copied."""
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(f"team@{DOMAIN}", Policy.OPEN, people=["bob@example.org"])
        await w.send(post("Hello", to=f"team@{DOMAIN}"), f"team@{DOMAIN}")
        await w.idle()
        [(_, got)] = smarthost.deliveries()
        [hop] = [v for v in got.message.get_all("Received") if "(listfed)" in v]
        flat = " ".join(str(hop).split())
        assert flat.startswith("from ") and "([127.0.0.1])" in flat
        assert f"by {w.node.config.node.name} (listfed) with ESMTP" in flat
        assert f"for <team@{DOMAIN}>;" in flat

        client = aiosmtplib.SMTP(hostname=w.host, port=w.port, local_hostname="x", timeout=10)
        await client.connect()
        await client.execute_command(b"EHLO", b"evil<script>(x)")
        await client.sendmail(
            "alice@example.net",
            [f"team@{DOMAIN}"],
            post("Again", message_id="<m2@x>", to=f"team@{DOMAIN}"),
        )
        await client.quit()
        await w.idle()
        [(_, second)] = smarthost.deliveries()[1:]
        [hop] = [v for v in second.message.get_all("Received") if "(listfed)" in v]
        assert str(hop).startswith("from unknown ([127.0.0.1])")


async def test_a_post_with_a_line_longer_than_1000_bytes_is_taken_and_delivered_whole(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """Web mailers and phones write a paragraph as one line: refusing it with a
    permanent 500 (aiosmtpd's default) bounced real posts. Postfix takes them; so do we."""
    long_line = "word " * 2000  # 10,000 bytes
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(f"team@{DOMAIN}", Policy.OPEN, people=["bob@example.org"])
        reply = await w.send(
            post("Long", body=long_line + "\r\n", to=f"team@{DOMAIN}"), f"team@{DOMAIN}"
        )
        assert reply[1].startswith("2.0.0") or "Queued" in reply[1]
        await w.idle()
        [(_, got)] = smarthost.deliveries()
        assert long_line.strip() in got.message.get_content()
        # handed on in lines the next hop takes as they are (RFC 5322's 998 octets)
        assert max(len(line) for line in got.data.split(b"\r\n")) <= 998
        assert got.message["Content-Transfer-Encoding"] == "quoted-printable"


async def test_a_line_over_a_mebibyte_or_a_message_too_big_gets_552_with_a_reason(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost, smtp={"max_message_size": "3MB"}) as w:
        w.make_list(f"team@{DOMAIN}", Policy.OPEN, people=["bob@example.org"])
        huge_line = post("Huge line", body="x" * (1 << 20 | 10) + "\r\n", to=f"team@{DOMAIN}")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await w.send(huge_line, f"team@{DOMAIN}")
        assert refused.value.code == 552 and "5.3.4 A line of the message" in refused.value.message
        too_big = post("Too big", body=("y" * 999 + "\r\n") * 4000, to=f"team@{DOMAIN}")
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:  # at MAIL SIZE=
            await w.send(too_big, f"team@{DOMAIN}")
        assert refused.value.code == 552 and "5.3.4 The message is bigger" in refused.value.message
