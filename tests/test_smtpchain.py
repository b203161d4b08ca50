"""Transactions of their own (delivery/smtpchain.py) to a server that offers CHUNKING
(RFC 3030) and PIPELINING, as Postfix does: a raw asyncio server on loopback that holds
its replies until it has had a number of transactions (a client that waits for a reply
before the next copy would hang there) and, as strictly as RFC 3030 lets it, keeps a
transaction whose BDAT it refused open until RSET, so that a MAIL sent after it without
RSET would be refused as nested and its RCPT added to the old transaction. The servers
without CHUNKING (a PIPELINING one, aiosmtpd) are in tests/test_smtpclient.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from listfed.delivery.smtpchain import AT_ONCE
from listfed.delivery.smtpclient import in_crlf
from listfed.delivery.transport import SendResult, SmtpTransport

WAIT = 5.0
MESSAGE = b"From: a@example.org\r\nSubject: s\r\n\r\nHi.\r\n.starts with a dot\r\n..two\r\n"
OK = b"250 2.0.0 Ok"


@dataclass
class Chunking:
    """A CHUNKING server; each reply can be chosen by the sender, recipient or content."""

    mail_reply: Callable[[str], bytes] = lambda sender: b"250 2.1.0 Ok"
    rcpt_reply: Callable[[str], bytes] = lambda rcpt: b"250 2.1.5 Ok"
    bdat_reply: Callable[[bytes], bytes] = lambda content: b"250 2.0.0 queued"
    rset_reply: Callable[[int], bytes] = lambda n: OK  # n: RSETs so far on all connections
    hold: int = 1  # replies go out after this many transactions' RSETs
    close_after: int = 0  # hang up after this many messages on a connection (0: never)
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    connections: int = 0
    rsets: int = 0
    port: int = 0

    async def command(self, reader: asyncio.StreamReader) -> str:
        line = (await reader.readuntil(b"\r\n"))[:-2].decode()
        self.commands.append(line)
        return line

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 chunking sink\r\n")
        held: list[bytes] = []
        mail_from: str | None = None
        rcpts: list[str] = []
        taken = ended = 0  # messages taken, transactions ended by RSET
        try:
            while True:
                line = await self.command(reader)
                verb = line[:4].upper()
                if verb == "EHLO":
                    writer.write(b"250-sink\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n")
                    writer.write(b"250-8BITMIME\r\n250 CHUNKING\r\n")
                elif verb == "MAIL":
                    address = line[11:].split(">")[0]
                    reply = b"503 5.5.1 Nested MAIL" if mail_from is not None else b""
                    reply = reply or self.mail_reply(address)
                    mail_from = address if reply.startswith(b"2") else mail_from
                    held.append(reply)
                elif verb == "RCPT":
                    address = line[9:].split(">")[0]
                    reply = self.rcpt_reply(address) if mail_from is not None else b""
                    if reply.startswith(b"2"):
                        rcpts.append(address)
                    held.append(reply or b"503 5.5.1 Need MAIL")
                elif verb == "BDAT":
                    size, *last = line[5:].split()
                    content = await reader.readexactly(int(size))  # read even if refused
                    assert last == ["LAST"]  # the client sends each message whole
                    reply = self.bdat_reply(content) if rcpts else b"554 5.5.1 No recipients"
                    held.append(reply)
                    if reply.startswith(b"2") and mail_from is not None:
                        self.messages.append((mail_from, rcpts, content))
                        mail_from, rcpts, taken = None, [], taken + 1
                        if self.close_after and taken >= self.close_after:
                            writer.write(b"".join(r + b"\r\n" for r in held))
                            await writer.drain()
                            writer.close()
                            return
                elif verb == "RSET":
                    self.rsets += 1
                    reply = self.rset_reply(self.rsets)
                    mail_from, rcpts, ended = None, [], ended + 1
                    held.append(reply)
                    if ended % self.hold == 0 or not reply.startswith(b"2"):
                        writer.write(b"".join(r + b"\r\n" for r in held))
                        held = []
                    if reply.startswith(b"421"):
                        await writer.drain()
                        writer.close()
                        return
                elif verb == "QUIT":
                    held.append(b"221 Bye")
                    break
                else:
                    held.append(b"502 5.5.2 What")
                await writer.drain()
            writer.write(b"".join(r + b"\r\n" for r in held))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def chunking() -> AsyncIterator[Chunking]:
    server = Chunking()
    async with await asyncio.start_server(server.serve, "127.0.0.1", 0) as listener:
        server.port = listener.sockets[0].getsockname()[1]
        yield server


def copies_for(rcpts: list[str], data: bytes = MESSAGE) -> list[tuple[str, str, bytes]]:
    return [(f"b+{r.split('@')[0]}@x.example", r, data + r.encode() + b"\r\n") for r in rcpts]


async def send_each(server: Chunking, copies: list[tuple[str, str, bytes]]) -> SendResult:
    sender = SmtpTransport("127.0.0.1", server.port, timeout=WAIT)
    try:
        return await asyncio.wait_for(sender.send_each(copies), WAIT * 2)
    finally:
        await sender.close()


async def test_copies_go_in_one_write_as_bdat_each_as_it_is(chunking: Chunking) -> None:
    rcpts = [f"m{n}@example.net" for n in range(5)]
    chunking.hold = len(rcpts)  # no reply before the fifth transaction: one write
    # a line that starts with a dot, and a message whose last line has no CRLF
    copies = [(f, r, d.removesuffix(b"\r\n")) for f, r, d in copies_for(rcpts)]
    result = await send_each(chunking, copies)
    assert result.accepted == rcpts and not result.temporary
    assert chunking.messages == [(f, [r], d) for f, r, d in copies]  # byte for byte
    verbs = [c.split(":")[0].split(" ")[0] for c in chunking.commands[1:]]
    assert verbs == ["MAIL", "RCPT", "BDAT", "RSET"] * len(rcpts) + ["QUIT"]
    first = copies[0]
    assert chunking.commands[1] == f"MAIL FROM:<{first[0]}> SIZE={len(first[2])}"
    assert chunking.commands[3] == f"BDAT {len(first[2])} LAST"


def refusing(server: Chunking) -> list[str]:
    """Recipients whose copies the server refuses at each place, one way or another."""
    server.mail_reply = lambda sender: b"553 5.7.1 Sender refused" if "dan" in sender else OK
    server.rcpt_reply = lambda rcpt: {
        "temp@example.net": b"451 4.2.1 Try later",
        "gone@example.net": b"550 5.1.1 No such user",
    }.get(rcpt, OK)
    server.bdat_reply = lambda content: (
        b"554 5.7.1 Content refused"
        if b"eve@" in content
        else b"452 4.3.1 Out of space"
        if b"fay@" in content
        else b"250 2.0.0 queued"
    )
    return [
        *("ann@example.net", "temp@example.net", "gone@example.net", "dan@example.net"),
        *("eve@example.net", "fay@example.net", "bob@example.net"),
    ]


async def test_each_copy_keeps_its_outcome_and_a_refused_one_leaves_the_next_alone(
    chunking: Chunking,
) -> None:
    rcpts = refusing(chunking)
    chunking.hold = len(rcpts)
    result = await send_each(chunking, copies_for(rcpts))
    assert result.accepted == ["ann@example.net", "bob@example.net"]
    assert result.temporary == {
        "temp@example.net": "451 4.2.1 Try later",
        "fay@example.net": "452 4.3.1 Out of space",
    }
    assert result.permanent == {
        "gone@example.net": "550 5.1.1 No such user",
        "dan@example.net": "553 5.7.1 Sender refused",
        "eve@example.net": "554 5.7.1 Content refused",
    }
    assert result.refused == {"gone@example.net"}  # a bounce for that member only
    # each taken copy alone in its transaction, from its own return path: the RSET after
    # each refused BDAT kept the next MAIL from being nested in what was left open
    assert chunking.messages == [
        (f, [r], d) for f, r, d in copies_for(["ann@example.net", "bob@example.net"])
    ]
    assert "503" not in str(result) and chunking.connections == 1


async def test_a_server_that_hangs_up_part_way_gets_the_rest_on_a_new_connection_once(
    chunking: Chunking,
) -> None:
    chunking.close_after = 2  # it hangs up with the next copies already written to it
    rcpts = [f"m{n}@example.net" for n in range(7)]
    result = await send_each(chunking, copies_for(rcpts))
    assert result.accepted == rcpts and not result.temporary
    assert [r for _f, (r,), _d in chunking.messages] == rcpts  # each once, in order
    assert chunking.connections == 4


async def test_an_rset_refused_ends_the_connection_and_the_rest_go_on_a_new_one(
    chunking: Chunking,
) -> None:
    chunking.rset_reply = lambda n: b"421 4.3.2 Shutting down" if n == 2 else OK
    rcpts = [f"m{n}@example.net" for n in range(4)]
    result = await send_each(chunking, copies_for(rcpts))
    assert result.accepted == rcpts and not result.temporary
    assert [r for _f, (r,), _d in chunking.messages] == rcpts
    assert chunking.connections == 2


async def test_many_copies_go_a_group_at_a_time(chunking: Chunking) -> None:
    chunking.hold = AT_ONCE  # a group's replies come after its last transaction
    rcpts = [f"m{n}@example.net" for n in range(2 * AT_ONCE)]
    result = await send_each(chunking, copies_for(rcpts))
    assert result.accepted == rcpts
    assert len(chunking.messages) == len(rcpts) and chunking.connections == 1


async def test_a_copy_in_bare_lf_goes_in_crlf_and_an_8bit_one_says_so(chunking: Chunking) -> None:
    data = MESSAGE.replace(b"\r\n", b"\n") + "Grüße\n".encode()
    result = await send_each(chunking, [("b@x.example", "ann@example.net", data)])
    assert result.accepted == ["ann@example.net"]
    [(_f, _r, content)] = chunking.messages
    assert content == MESSAGE + "Grüße\r\n".encode()
    assert chunking.commands[1] == f"MAIL FROM:<b@x.example> SIZE={len(content)} BODY=8BITMIME"


def test_bdat_content_is_the_message_in_crlf_and_nothing_else_changes() -> None:
    sent = {b"a\r\nb\r\n": b"a\r\nb\r\n", b"a\r\nb": b"a\r\nb", b"": b""}
    sent |= {b"a\rb\nc": b"a\r\nb\r\nc", b"a\n\rb\r\n": b"a\r\n\r\nb\r\n"}  # bare ones
    assert {data: in_crlf(data) for data in sent} == sent
