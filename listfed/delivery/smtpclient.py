"""The delivery hot path's SMTP client: one connection, many transactions, and
PIPELINING (RFC 2920) where the server offers it.

aiosmtplib sends each RCPT and waits for its reply: one write and one round trip per
recipient. Here a transaction's MAIL, every RCPT and DATA go in one write and their
replies are read in order, so per-recipient outcomes stay exact (DESIGN "Outbound
SMTP"). Without PIPELINING the same commands go one at a time. EHLO (HELO when refused),
SIZE, 8BITMIME and SMTPUTF8 where offered, STARTTLS and AUTH PLAIN/LOGIN for servers
that want a login. Every read has a timeout and a bound on what a server may send.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from dataclasses import dataclass

MAX_LINE = 4096  # bytes of one reply line a server may send
MAX_LINES = 100  # lines of one (multi-line) reply
_NEWLINES = re.compile(rb"\r\n|\r|\n")  # linear: any line ending becomes CRLF


class SmtpError(Exception):
    """The connection failed, timed out or broke the protocol: nothing was decided."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class Outcome:
    """A transaction's replies: MAIL, each RCPT in order, and the last word on the
    message (the reply to the data, or to DATA itself when it was refused); `message`
    is None when no recipient was accepted and no DATA was sent."""

    mail: Reply
    rcpts: list[Reply]
    message: Reply | None


def in_crlf(data: bytes) -> bytes:
    """The message with CRLF line endings, else as it is: what BDAT sends (RFC 3030)."""
    crlfs = data.count(b"\r\n")  # copies come so: three counts cost a third of the sub
    if crlfs == data.count(b"\n") and crlfs == data.count(b"\r"):
        return data
    return _NEWLINES.sub(b"\r\n", data)


def prepared(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line endings, dots stuffed, the end."""
    body = in_crlf(data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    body = (b"." if body.startswith(b".") else b"") + body.replace(b"\r\n.", b"\r\n..")
    return body + b".\r\n"


class SmtpClient:
    def __init__(self, host: str, port: int, timeout: float, local_name: str = "localhost"):
        self.host, self.port, self.timeout, self.local_name = host, port, timeout, local_name
        self.extensions: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.secure = False

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Open the connection, read the greeting, say EHLO."""
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=MAX_LINE), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise SmtpError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        greeting = await self._read()
        if greeting.code != 220:
            self.close()
            raise SmtpError(f"{self.host} refuses connections: {greeting}")
        await self.hello()

    async def hello(self) -> None:
        reply = await self.command(f"EHLO {self.local_name}")
        if reply.ok:
            lines = reply.text.split("\n")[1:]  # the first line is the server's name
            self.extensions = {}
            for line in lines:
                name, _, params = line.strip().partition(" ")
                self.extensions[name.upper()] = params
            return
        reply = await self.command(f"HELO {self.local_name}")
        if not reply.ok:
            raise SmtpError(f"{self.host} refused EHLO and HELO: {reply}")
        self.extensions = {}

    def offers(self, extension: str) -> bool:
        return extension.upper() in self.extensions

    async def starttls(self, context: ssl.SSLContext) -> None:
        reply = await self.command("STARTTLS")
        if reply.code != 220:
            raise SmtpError(f"{self.host} refused STARTTLS: {reply}")
        assert self._writer is not None
        try:
            await asyncio.wait_for(
                self._writer.start_tls(context, server_hostname=self.host), self.timeout
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self.close()
            raise SmtpError(f"TLS with {self.host} failed: {exc}") from exc
        self.secure = True
        await self.hello()

    async def login(self, username: str, password: str) -> Reply:
        """AUTH PLAIN, or LOGIN where only that is offered; the final reply."""
        mechanisms = self.extensions.get("AUTH", "").upper().split()
        if "PLAIN" in mechanisms or "LOGIN" not in mechanisms:
            token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            return await self.command(f"AUTH PLAIN {token}")
        reply = await self.command("AUTH LOGIN")
        for answer in (username, password):
            if reply.code != 334:
                return reply
            reply = await self.command(base64.b64encode(answer.encode()).decode())
        return reply

    async def send(self, mail_from: str, rcpts: list[str], data: bytes) -> Outcome:
        """One transaction. A refused transaction is reset, so the connection goes on."""
        envelope = self.envelope(mail_from, rcpts, data)
        data_reply: Reply | None
        if self.offers("PIPELINING"):
            self.write("".join(f"{c}\r\n" for c in [*envelope, "DATA"]).encode("utf-8"))
            replies = await self.replies(len(envelope) + 1)
            mail_reply, rcpt_replies, data_reply = replies[0], replies[1:-1], replies[-1]
        else:
            mail_reply, rcpt_replies, data_reply = await self._one_by_one(envelope)
        accepted = mail_reply.ok and any(r.ok for r in rcpt_replies)
        if data_reply is not None and data_reply.code == 354:
            # with PIPELINING a server may say 354 though nobody was accepted: end it empty
            self.write(prepared(data) if accepted else b".\r\n")
            data_reply = await self._read()
        if data_reply is None or not data_reply.ok or not accepted:
            await self.reset()
        return Outcome(mail_reply, rcpt_replies, data_reply if accepted else None)

    def envelope(self, mail_from: str, rcpts: list[str], data: bytes) -> list[str]:
        """MAIL FROM (with the parameters the server takes) and each RCPT TO."""
        params = self._mail_params(mail_from, rcpts, data)
        return [f"MAIL FROM:<{mail_from}>{params}", *(f"RCPT TO:<{r}>" for r in rcpts)]

    async def _one_by_one(self, envelope: list[str]) -> tuple[Reply, list[Reply], Reply | None]:
        mail_reply = await self.command(envelope[0])
        if not mail_reply.ok:
            return mail_reply, [mail_reply] * (len(envelope) - 1), None
        rcpt_replies = [await self.command(c) for c in envelope[1:]]
        if not any(r.ok for r in rcpt_replies):
            return mail_reply, rcpt_replies, None
        return mail_reply, rcpt_replies, await self.command("DATA")

    def _mail_params(self, mail_from: str, rcpts: list[str], data: bytes) -> str:
        params = []
        if self.offers("SIZE"):
            params.append(f"SIZE={len(data)}")
        if self.offers("8BITMIME") and not data.isascii():
            params.append("BODY=8BITMIME")
        if self.offers("SMTPUTF8") and not all(a.isascii() for a in (mail_from, *rcpts)):
            params.append("SMTPUTF8")
        return "".join(" " + p for p in params)

    async def reset(self) -> None:
        if self.connected:
            await self.command("RSET")

    async def command(self, line: str) -> Reply:
        self.write(f"{line}\r\n".encode())
        return await self._read()

    def write(self, data: bytes) -> None:
        """Queue bytes for the server; `replies` sends them before it waits."""
        if self._writer is None or self._writer.is_closing():
            raise SmtpError(f"the connection to {self.host} is closed")
        self._writer.write(data)

    async def _read(self) -> Reply:
        return (await self.replies(1))[0]

    async def replies(self, count: int) -> list[Reply]:
        """The next `count` replies, all their lines; flushing what was written first.
        Each reply has `timeout` seconds: a group's timer is moved on at each."""
        if self._reader is None or self._writer is None:
            raise SmtpError(f"not connected to {self.host}")
        try:
            # one timer for the group, and no task made per reply (as wait_for makes)
            async with asyncio.timeout(self.timeout) as timer:
                await self._writer.drain()
                found = [await self._reply(self._reader)]
                while len(found) < count:
                    timer.reschedule(asyncio.get_running_loop().time() + self.timeout)
                    found.append(await self._reply(self._reader))
                return found
        except (OSError, TimeoutError, EOFError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            what = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc}"
            raise SmtpError(f"{self.host}:{self.port} {what}") from exc

    async def _reply(self, reader: asyncio.StreamReader) -> Reply:
        texts: list[str] = []
        for _ in range(MAX_LINES):
            line = await reader.readuntil(b"\n")
            code, more, text = line[:3], line[3:4], line[4:].rstrip(b"\r\n")
            if not code.isdigit() or more not in (b" ", b"-", b"\r", b"\n"):
                raise ValueError(f"not an SMTP reply: {line[:80]!r}")
            texts.append(text.decode("utf-8", "replace"))
            if more != b"-":
                return Reply(int(code), "\n".join(texts))
        raise ValueError(f"a reply of over {MAX_LINES} lines")

    async def quit(self) -> None:
        try:
            if self.connected:
                await self.command("QUIT")
        except SmtpError:
            pass
        self.close()

    def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
