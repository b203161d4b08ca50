"""An accepted post is read once: the email package parses its bytes one time, and its
header block is split once for the stages (and once before the pass, for the DMARC
lookup), whatever the stages do with it: archive, decorate, relay, attachment rules."""

from __future__ import annotations

import collections
import email
import threading
from typing import Any

import pytest

from listfed.listinfo import Policy
from listfed.mail import rawmail
from tests.conftest import World

TEAM = "team@lists.example.org"
PEOPLE = ["alice@example.net", "bob@example.net"]
MULTIPART = (
    b"From: Alice <alice@example.net>\r\nTo: team@lists.example.org\r\nSubject: agenda\r\n"
    b"Message-ID: <agenda@example.net>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nthe agenda\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n<p>the agenda</p>\r\n--b--\r\n"
)


async def test_an_accepted_multipart_post_is_parsed_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hold_types: the attachment rule reads the MIME tree too
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE, hold_types="application/x-msdownload")
    calls: collections.Counter[str] = collections.Counter()
    parse_tree = email.message_from_bytes
    split_head = rawmail.RawMessage.parse.__func__  # type: ignore[attr-defined]

    def counted_tree(*args: object, **kwargs: object) -> object:
        calls["email package"] += 1
        return parse_tree(*args, **kwargs)  # type: ignore[arg-type]

    def counted_head(cls: type, raw: bytes) -> object:
        calls["header block"] += 1
        return split_head(cls, raw)

    monkeypatch.setattr(email, "message_from_bytes", counted_tree)
    monkeypatch.setattr(rawmail.RawMessage, "parse", classmethod(counted_head))
    await world.send(MULTIPART, TEAM)
    await world.idle()
    assert world.smarthost is not None
    assert len(world.smarthost.received) == 1  # archived, decorated and delivered
    assert calls == {"email package": 1, "header block": 2}


@pytest.mark.parametrize("rcpt", [TEAM, "team-request@lists.example.org"])
async def test_mail_is_read_off_the_database_thread(
    world: World, monkeypatch: pytest.MonkeyPatch, rcpt: str
) -> None:
    """Reading a stranger's bytes never happens while the write transaction is held,
    for a post as for mail to a robot."""
    from listfed import dispatch

    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    threads: list[str] = []
    read = dispatch.parse

    def watched(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return read(*args, **kwargs)

    monkeypatch.setattr(dispatch, "parse", watched)
    await world.send(MULTIPART, rcpt)
    await world.idle()
    assert threads and not any(name.startswith("listfed-db") for name in threads)
