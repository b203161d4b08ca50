"""A post nested hundreds of multiparts deep is read for its headers and goes through
the pipeline like any other, instead of holding the pipeline thread for a minute."""

from __future__ import annotations

from listfed import policy
from listfed.listinfo import Policy
from listfed.mail import mimeparse
from listfed.mail.message import parse
from tests.conftest import DOMAIN, World

TEAM = f"team@{DOMAIN}"


def nested(levels: int = 800, lines: int = 80_000) -> bytes:
    head = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(levels)
    )
    return (
        f"From: Mallory <m@example.org>\r\nTo: {TEAM}\r\nMessage-ID: <nested@x>\r\n"
        "Subject: nested\r\n".encode()
        + head.encode()
        + b"\r\ntext\r\n"
        + b"line\r\n" * lines
    )


def test_a_deep_message_is_read_for_its_headers_only() -> None:
    raw = nested()
    assert mimeparse.too_deep(raw)
    got = parse(raw)
    assert (got.message_id, got.sender, got.subject) == ("nested@x", "m@example.org", "nested")
    assert got.body_text == ""
    assert policy.part_types(raw) is None  # unreadable parts: a list with hold_types holds it


def test_ordinary_mime_is_parsed_whole() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=x\r\n"
        b"\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n"
    )
    assert not mimeparse.too_deep(raw)
    assert parse(raw).body_text.strip() == "hello"
    assert policy.part_types(raw) == ["multipart/mixed", "text/plain"]


async def test_a_deep_post_is_delivered_and_archived(world: World) -> None:
    world.make_list(TEAM, Policy.OPEN, people=["bob@example.org"])
    await world.send(nested(), TEAM, mail_from="m@example.org")
    await world.idle(timeout=60)
    assert world.smarthost is not None
    assert [r for r, _ in world.smarthost.deliveries()] == ["bob@example.org"]
