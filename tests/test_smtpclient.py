"""The delivery hot path's SMTP client (delivery/smtpclient.py) through SmtpTransport,
against real servers on loopback: a raw asyncio server that offers PIPELINING and, as
RFC 2920 allows, holds its replies until it has DATA (a client that waits for each
reply would hang there), and aiosmtpd, which does not offer it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from listfed.delivery.smtpclient import prepared
from listfed.delivery.transport import SendResult, SmtpTransport

MESSAGE = (
    b"From: a@example.org\r\nTo: team@lists.example.org\r\nSubject: s\r\n\r\n"
    b"Hi.\r\n.starts with a dot\r\n..two\r\n"
)
WAIT = 5.0


@dataclass
class Pipelined:
    """A server that offers PIPELINING and answers a whole envelope at once, after DATA."""

    rcpt_reply: Callable[[str], bytes] = lambda rcpt: b"250 2.1.5 Ok"
    mail_reply: bytes = b"250 2.1.0 Ok"
    data_reply: bytes = b"354 go ahead"
    final_reply: bytes = b"250 2.0.0 queued"
    ehlo: bytes = b"250-sink\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250 8BITMIME"
    greeting: bytes = b"220 sink ready"
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)  # envelope lines per read that replied
    close_after: int = 0  # close the connection after this many messages (0: never)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting + b"\r\n")
        held: list[bytes] = []
        mail_from, rcpts, accepted = "", [], 0
        try:
            while True:
                line = (await reader.readuntil(b"\r\n"))[:-2].decode()
                self.commands.append(line)
                verb = line[:4].upper()
                if verb == "EHLO":
                    writer.write(self.ehlo + b"\r\n")
                elif verb == "MAIL":
                    mail_from, rcpts, accepted = line[11:].split(">")[0], [], 0
                    held.append(self.mail_reply)
                elif verb == "RCPT":
                    rcpt = line[9:].split(">")[0]
                    reply = self.rcpt_reply(rcpt)
                    accepted += reply.startswith(b"2")
                    rcpts.append(rcpt)
                    held.append(reply)
                elif verb == "DATA":
                    ok = self.mail_reply.startswith(b"2") and accepted
                    held.append(self.data_reply if ok else b"554 5.5.1 No valid recipients")
                    self.chunks.append(len(held))
                    writer.write(b"".join(r + b"\r\n" for r in held))
                    held = []
                    if ok and self.data_reply.startswith(b"354"):
                        data = await reader.readuntil(b"\r\n.\r\n")
                        self.messages.append((mail_from, rcpts, data))
                        writer.write(self.final_reply + b"\r\n")
                        if self.close_after and len(self.messages) >= self.close_after:
                            await writer.drain()
                            writer.close()
                            return
                elif verb in ("RSET", "NOOP"):
                    held.append(b"250 2.0.0 Ok")
                    writer.write(b"".join(r + b"\r\n" for r in held))
                    held = []
                elif verb == "QUIT":
                    writer.write(b"221 Bye\r\n")
                    await writer.drain()
                    writer.close()
                    return
                else:
                    writer.write(b"502 5.5.2 What\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def pipelined() -> AsyncIterator[Pipelined]:
    server = Pipelined()
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    yield server
    listener.close()


def transport(port: int) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", port, timeout=WAIT)


REFUSED = {"temp@example.net": b"451 4.2.1 Try later", "gone@example.net": b"550 5.1.1 No"}


def refusing_some(server: Pipelined) -> list[str]:
    """Recipients of whom the server refuses one for now and one for good."""
    server.rcpt_reply = lambda rcpt: REFUSED.get(rcpt, b"250 2.1.5 Ok")
    return ["ann@example.net", "temp@example.net", "gone@example.net", "bob@example.net"]


def assert_refused_some(result: SendResult) -> None:
    assert result.accepted == ["ann@example.net", "bob@example.net"]
    assert result.temporary == {"temp@example.net": "451 4.2.1 Try later"}
    assert result.permanent == {"gone@example.net": "550 5.1.1 No"}
    assert result.refused == {"gone@example.net"}  # a bounce for that member only


async def test_a_whole_envelope_goes_in_one_write_and_each_recipient_keeps_its_outcome(
    pipelined: Pipelined,
) -> None:
    rcpts = refusing_some(pipelined)
    sender = transport(pipelined.port)
    result = await asyncio.wait_for(sender.send("team-bounces@x.example", rcpts, MESSAGE), WAIT)
    await sender.close()
    assert_refused_some(result)
    assert pipelined.chunks == [6]  # MAIL, four RCPTs and DATA answered at once
    [(mail_from, got_rcpts, data)] = pipelined.messages
    assert (mail_from, got_rcpts) == ("team-bounces@x.example", rcpts)
    assert data == prepared(MESSAGE)
    assert pipelined.commands[1].endswith(f"SIZE={len(MESSAGE)}")


async def test_one_connection_carries_many_transactions_and_comes_back_when_closed(
    pipelined: Pipelined,
) -> None:
    pipelined.close_after = 1  # the server hangs up after each message, as some do
    sender = transport(pipelined.port)
    for n in range(3):
        result = await sender.send("b@x.example", [f"m{n}@example.net"], MESSAGE)
        assert result.accepted == [f"m{n}@example.net"]
    await sender.close()
    assert len(pipelined.messages) == 3


@pytest.mark.parametrize(
    ("where", "reply", "permanent"),
    [
        ("mail", b"451 4.3.0 Busy", False),
        ("mail", b"553 5.7.1 Sender refused", True),
        ("data", b"451 4.3.0 Not now", False),
        ("final", b"554 5.7.1 Content refused", True),
        ("final", b"452 4.3.1 Out of space", False),
    ],
)
async def test_a_refused_transaction_fails_every_recipient_and_bounces_none(
    pipelined: Pipelined, where: str, reply: bytes, permanent: bool
) -> None:
    setattr(pipelined, f"{where}_reply", reply)
    sender = transport(pipelined.port)
    rcpts = ["ann@example.net", "bob@example.net"]
    result = await sender.send("b@x.example", rcpts, MESSAGE)
    failed = result.permanent if permanent else result.temporary
    assert result.accepted == [] and result.refused == set()
    assert failed == dict.fromkeys(rcpts, reply.decode())
    # the connection was reset and goes on
    pipelined.mail_reply, pipelined.data_reply = b"250 Ok", b"354 go"
    pipelined.final_reply = b"250 queued"
    again = await sender.send("b@x.example", rcpts, MESSAGE)
    await sender.close()
    assert again.accepted == rcpts


async def test_a_server_that_talks_nonsense_or_endlessly_is_a_temporary_failure(
    pipelined: Pipelined,
) -> None:
    for ehlo in (b"250-" + b"x" * 10_000, b"\r\n".join([b"250-x"] * 500) + b"\r\n250 x"):
        pipelined.ehlo = ehlo
        sender = transport(pipelined.port)
        result = await asyncio.wait_for(
            sender.send("b@x.example", ["a@example.net"], MESSAGE), WAIT
        )
        await sender.close()
        assert result.accepted == [] and list(result.temporary) == ["a@example.net"]
    pipelined.ehlo, pipelined.greeting = b"250 sink", b"554 go away"
    sender = transport(pipelined.port)
    result = await sender.send("b@x.example", ["a@example.net"], MESSAGE)
    assert "554 go away" in result.temporary["a@example.net"]


@dataclass
class Handler:
    refuse: set[str] = field(default_factory=set)
    got: list[Any] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 Unknown user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


async def test_without_pipelining_commands_go_one_by_one_with_the_same_outcomes() -> None:
    handler = Handler(refuse={"gone@example.net"})
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sender = transport(port)
        body = MESSAGE.replace(b"\r\n", b"\n") + "Grüße\n".encode()  # bare LF, 8-bit
        result = await sender.send("b@x.example", ["ann@example.net", "gone@example.net"], body)
        nobody = await sender.send("b@x.example", ["gone@example.net"], MESSAGE)
        await sender.close()
    finally:
        server.close()
    assert result.accepted == ["ann@example.net"]
    assert result.refused == {"gone@example.net"}
    assert nobody.accepted == [] and nobody.refused == {"gone@example.net"}
    [(mail_from, rcpts, content)] = handler.got  # nothing sent when nobody was accepted
    assert (mail_from, rcpts) == ("b@x.example", ["ann@example.net"])
    # aiosmtpd removed the stuffed dots: the lines are the author's, in CRLF
    assert content == MESSAGE + "Grüße\r\n".encode()


def copies_for(rcpts: list[str]) -> list[tuple[str, str, bytes]]:
    return [(f"b+{r.split('@')[0]}@x.example", r, MESSAGE + r.encode() + b"\r\n") for r in rcpts]


async def test_transactions_of_their_own_go_one_round_trip_each_with_exact_outcomes(
    pipelined: Pipelined,
) -> None:
    rcpts = refusing_some(pipelined)
    sender = transport(pipelined.port)
    result = await asyncio.wait_for(sender.send_each(copies_for(rcpts)), WAIT)
    await sender.close()
    assert_refused_some(result)
    # each copy went to its own recipient, from its own return path, as it was
    assert pipelined.messages == [
        (f, [r], prepared(d)) for f, r, d in copies_for(rcpts) if r not in REFUSED
    ]
    # the refused ones were reset; the others' content opened the next envelope's write
    verbs = [c.split(":")[0].split(" ")[0] for c in pipelined.commands[1:]]
    assert verbs == [
        *("MAIL", "RCPT", "DATA"),  # ann
        *("MAIL", "RCPT", "DATA", "RSET"),  # temp: nobody accepted
        *("MAIL", "RCPT", "DATA", "RSET"),  # gone
        *("MAIL", "RCPT", "DATA", "QUIT"),  # bob
    ]


@pytest.mark.parametrize(
    ("where", "reply", "permanent"),
    [("mail", b"451 4.3.0 Busy", False), ("data", b"554 5.7.1 No", True)],
)
async def test_a_refused_transaction_among_many_fails_its_recipient_alone(
    pipelined: Pipelined, where: str, reply: bytes, permanent: bool
) -> None:
    setattr(pipelined, f"{where}_reply", reply)
    sender = transport(pipelined.port)
    first = await sender.send_each(copies_for(["ann@example.net", "bob@example.net"]))
    failed = first.permanent if permanent else first.temporary
    assert first.accepted == [] and first.refused == set()
    assert failed == dict.fromkeys(["ann@example.net", "bob@example.net"], reply.decode())
    pipelined.mail_reply, pipelined.data_reply = b"250 Ok", b"354 go"
    again = await sender.send_each(copies_for(["cy@example.net", "di@example.net"]))
    await sender.close()
    assert again.accepted == ["cy@example.net", "di@example.net"]


async def test_a_server_that_hangs_up_after_each_message_still_gets_them_all(
    pipelined: Pipelined,
) -> None:
    pipelined.close_after = 1  # it hangs up with the next envelope already sent
    rcpts = [f"m{n}@example.net" for n in range(4)]
    sender = transport(pipelined.port)
    result = await asyncio.wait_for(sender.send_each(copies_for(rcpts)), WAIT)
    await sender.close()
    assert result.accepted == rcpts and not result.temporary
    assert [r for _f, (r,), _d in pipelined.messages] == rcpts  # each once


async def test_copies_for_a_server_that_refuses_to_talk_wait_for_a_retry(
    pipelined: Pipelined,
) -> None:
    rcpts = ["ann@example.net", "bob@example.net"]
    pipelined.greeting = b"554 go away"
    result = await transport(pipelined.port).send_each(copies_for(rcpts))
    assert result.accepted == [] and list(result.temporary) == rcpts
    assert "554 go away" in result.temporary["bob@example.net"]


async def test_transactions_of_their_own_without_pipelining_keep_their_outcomes() -> None:
    handler = Handler(refuse={"gone@example.net"})
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rcpts = ["ann@example.net", "gone@example.net", "bob@example.net"]
    try:
        sender = transport(port)
        result = await sender.send_each(copies_for(rcpts))
        await sender.close()
    finally:
        server.close()
    assert result.accepted == ["ann@example.net", "bob@example.net"]
    assert result.refused == {"gone@example.net"} and list(result.permanent) == ["gone@example.net"]
    assert [(f, r) for f, r, _c in handler.got] == [
        ("b+ann@x.example", ["ann@example.net"]),
        ("b+bob@x.example", ["bob@example.net"]),
    ]
