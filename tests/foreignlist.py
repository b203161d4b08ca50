"""A foreign list for the bridge tests: an aiosmtpd server on loopback that behaves like
a GNU Mailman 2.1 list at atl-coc@groups.example (or, with `style`, like a Mailman 3 or
a Sympa list: tests/liststyles.py).

It takes mail for its posting address only, distributes a subscriber's post to every
subscriber (by SMTP to the subscriber's endpoint, or through a `deliver(address, raw)`
callback for a mailbox that an IMAP bridge watches) and holds anyone else's. On the way it
changes the post as Mailman does: `[atl-coc] ` before the subject (once, with "Re:" moved
after it), a footer appended to a text/plain body or as a MIME part, List-* headers,
Precedence and X-BeenThere, a Received line, From rewritten for DMARC if asked, the
Message-ID replaced if asked; the envelope sender is the -bounces address.

    async with ForeignList(munge_from=True) as atl:
        atl.subscribe("bridge-atl@lists.philly.example", ("127.0.0.1", node_port))
        ...
        await atl.wait_until(lambda: len(atl.distributed) == 1)

Everything is recorded for assertions: `received` (what came in by SMTP or from
`post_from_member`), `distributed` (one entry per subscriber copy), `held`, `failures`,
`notices` (what the list wrote to a poster: held, rejected; and the bounces it sent as
an MTA would). Mail to a poster goes to the endpoint `mx` names for their domain.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import inspect
import quopri
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.header import Header, decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from io import BytesIO
from types import TracebackType
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP

from tests import liststyles

Endpoint = tuple[str, int]
Deliver = Callable[[str, bytes], Awaitable[None] | None]

# Mailman 2's reply prefixes, with a count as some clients write it ("Re[2]:").
_REPLY = re.compile(r"^\s*(?:(?:re|aw|sv|vs)(?:\[\d+\])?:\s*)+", re.IGNORECASE)
# Serialise without refolding anything; lines as the parser kept them.
_OUT = email.policy.compat32.clone(max_line_length=0, linesep="\n")


@dataclass(frozen=True)
class Arrival:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True)
class Distribution:
    subscriber: str
    mail_from: str  # the envelope sender it went out with
    raw: bytes
    via: str  # "smtp" or "deliver"

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass(frozen=True)
class Held:
    sender: str
    reason: str  # "non-member", "loop" or "moderated"
    raw: bytes


@dataclass
class ForeignList:
    """A Mailman-like list; start and stop it with ``async with``."""

    name: str = "atl-coc"
    domain: str = "groups.example"
    munge_from: bool = False  # DMARC: From becomes "Name via atl-coc" <list>
    replace_message_id: bool = False  # as Google Groups does on some paths
    deliver: Deliver | None = None  # for subscribers without an SMTP endpoint
    # Where the sender is looked for among the subscribers. Mailman 3 also looks at
    # "envelope", "reply-to" and "sender"; the default is the strict From-only check.
    member_fields: tuple[str, ...] = ("from",)
    body_encoding: str = "base64"  # of a decorated text/plain body: base64, quoted-printable, 8bit
    # "mailman2" (the changes described above), "mailman3" or "sympa" (tests/liststyles.py)
    style: str = "mailman2"
    # Mailman 3 and Sympa: DMARC mitigation for every post (Mailman 3's
    # dmarc_mitigate_unconditionally): "munge" (From "Name via List") or "wrap" (a new
    # message from the list with the post inside as message/rfc822; Mailman 3 only)
    dmarc: str = ""
    reply_to_list: bool = False  # Mailman 3's reply_goes_to_list = point_to_list
    wrapped_text: str = ""  # Mailman 3's dmarc_wrapped_message_text
    moderated: set[str] = field(default_factory=set)  # members whose posts are held
    mx: dict[str, Endpoint] = field(default_factory=dict)  # domain -> where its mail goes
    host: str = "127.0.0.1"
    timeout: float = 5.0  # for every SMTP delivery and every wait
    subscribers: dict[str, Endpoint | None] = field(default_factory=dict)
    # may post without receiving: Mailman's accept_these_nonmembers, or a member with
    # delivery off (how a bridge subscribed as NAME+TAG posts from its bare NAME)
    posters: set[str] = field(default_factory=set)
    received: list[Arrival] = field(default_factory=list)
    distributed: list[Distribution] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (subscriber, error)
    notices: list[Arrival] = field(default_factory=list)  # (envelope, rcpt, raw) written
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _posts: int = 0

    @property
    def address(self) -> str:
        return f"{self.name}@{self.domain}"

    @property
    def bounces(self) -> str:
        return f"{self.name}-bounces@{self.domain}"

    @property
    def list_id(self) -> str:
        return f"<{self.name}.{self.domain}>"

    @property
    def display_name(self) -> str:
        """Mailman 3's: the list name capitalised."""
        return self.name.capitalize()

    @property
    def prefix(self) -> str:
        return f"[{self.display_name}]" if self.style == "mailman3" else f"[{self.name}]"

    @property
    def footer(self) -> str:
        if self.style == "mailman3":
            return (
                f"_______________________________________________\n"
                f"{self.display_name} mailing list -- {self.address}\n"
                f"To unsubscribe send an email to {self.name}-leave@{self.domain}\n"
            )
        if self.style == "sympa":
            return f"Liste {self.name} -- https://{self.domain}/sympa/info/{self.name}\n"
        return (
            "_______________________________________________\n"
            f"{self.name} mailing list\n"
            f"{self.address}\n"
            f"https://{self.domain}/mailman/listinfo/{self.name}\n"
        )

    def subscribe(self, address: str, endpoint: Endpoint | None = None) -> None:
        """Subscribe an address; its copies go to `endpoint` by SMTP, else to `deliver`."""
        if endpoint is None and self.deliver is None:
            raise ValueError(f"{address}: no endpoint and no deliver callback")
        self.subscribers[address.lower()] = endpoint

    def unsubscribe(self, address: str) -> None:
        self.subscribers.pop(address.lower(), None)

    def allow(self, address: str) -> None:
        """Let an address post without receiving the list's mail."""
        self.posters.add(address.lower())

    async def __aenter__(self) -> ForeignList:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname=self.domain, enable_SMTPUTF8=True), self.host, 0
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.settle()
        except TimeoutError:
            pass
        finally:
            for task in self._tasks:
                task.cancel()
            if self._server is not None:
                self._server.close()
                await asyncio.wait_for(self._server.wait_closed(), self.timeout)

    # aiosmtpd handler hooks

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() != self.address:
            return f"550 5.1.1 <{address}>: no such list here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        mail_from = str(envelope.mail_from or "")
        self.received.append(Arrival(mail_from, tuple(envelope.rcpt_tos), raw))
        received = self._received_line(str(session.host_name or "unknown"), session.peer[0])
        # Mailman queues a post and answers at once; the tests wait with settle/wait_until.
        task = asyncio.create_task(self._process(raw, mail_from, received))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await self._notify()
        return "250 OK queued"

    # what tests call

    async def post_from_member(
        self,
        address: str,
        subject: str,
        body: str,
        *,
        name: str = "",
        in_reply_to: str = "",
    ) -> bytes:
        """A foreign member posts (held if not subscribed); returns the post as written.
        Returns once it has been distributed."""
        self._posts += 1
        msg = EmailMessage()
        msg["From"] = formataddr((name, address)) if name else address
        msg["To"] = self.address
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(f"member{self._posts}", address.rpartition("@")[2])
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
            msg["References"] = in_reply_to
        msg.set_content(body, cte="8bit")
        raw = msg.as_bytes(policy=email.policy.SMTP.clone(linesep="\n"))
        await self.post_raw(raw, address)
        return raw

    async def post_raw(self, raw: bytes, address: str) -> None:
        """A member's mail program sends `raw` to the list; returns once it has been
        distributed (or held)."""
        self.received.append(Arrival(address, (self.address,), raw))
        await asyncio.wait_for(
            self._process(raw, address, self._received_line("member", "127.0.0.1")),
            self.timeout * (len(self.subscribers) + 1),
        )

    async def settle(self, timeout: float | None = None) -> None:
        """Until every post taken so far has been distributed or held."""
        async with asyncio.timeout(timeout or self.timeout):
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_until(self, done: Callable[[], bool], timeout: float | None = None) -> None:
        """Until `done()` holds, checked after every change; TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout or self.timeout), self._changed:
            await self._changed.wait_for(done)

    def mailmanise(self, raw: bytes) -> bytes:
        """The post as the list sends it to subscribers (without the Received line)."""
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        if self.style == "mailman3":
            msg = liststyles.mailman3(self, msg)
        elif self.style == "sympa":
            liststyles.sympa(self, msg)
        else:
            self._prefix_subject(msg)
            self._add_footer(msg)
            self.list_fields(msg)
            msg["X-BeenThere"] = self.address
            if self.munge_from:
                self._munge_from(msg)
        if self.replace_message_id or not msg["Message-ID"]:
            del msg["Message-ID"]
            msg["Message-ID"] = make_msgid("mm", self.domain)
        return flatten(msg)

    def list_fields(self, msg: Message) -> None:
        """List-Id, List-Post, List-Help, List-Unsubscribe and Precedence, as the list's."""
        for name in ("List-Id", "List-Post", "List-Unsubscribe", "List-Help", "Precedence"):
            del msg[name]
        msg["Precedence"] = "list"
        msg["List-Id"] = self.list_id
        msg["List-Post"] = f"<mailto:{self.address}>"
        msg["List-Help"] = f"<mailto:{self.name}-request@{self.domain}?subject=help>"
        msg["List-Unsubscribe"] = f"<mailto:{self.name}-request@{self.domain}?subject=unsubscribe>"

    async def reject(self, held: Held, reason: str) -> None:
        """The moderator rejects a held post; the poster is told (liststyles.rejection)."""
        self.held.remove(held)
        await self.write(liststyles.rejection(self, held, reason))

    async def bounce(self, arrival: Arrival, reason: str = "550 5.7.1 Not allowed") -> None:
        """The list's MTA refuses `arrival` after taking it: a DSN to its envelope sender."""
        await self.write(liststyles.dsn(self, arrival, reason))

    async def write(self, letter: Arrival) -> None:
        """Record a notice or bounce, and send it to the endpoint of its recipient's
        domain if `mx` knows one."""
        [rcpt] = letter.rcpt_tos
        self.notices.append(letter)
        endpoint = self.mx.get(rcpt.rpartition("@")[2].lower())
        if endpoint is not None:
            await self._smtp(letter.raw, letter.mail_from, rcpt, endpoint)
        await self._notify()

    async def _smtp(self, raw: bytes, sender: str, rcpt: str, endpoint: Endpoint) -> None:
        """One SMTP transaction; `sender` "" is the null sender of a bounce."""
        client = aiosmtplib.SMTP(
            hostname=endpoint[0], port=endpoint[1], timeout=self.timeout, start_tls=False
        )
        async with client:
            await client.sendmail(sender, [rcpt], raw)

    # the list's work

    async def _process(self, raw: bytes, mail_from: str, received: bytes) -> None:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        sender = _addresses(msg.get_all("From") or [])
        loop = _values(msg, "X-BeenThere") + _values(msg, "X-Loop")
        if any(v.strip().lower() == self.address for v in loop):
            await self._hold(sender, "loop", raw)
            return
        if not self._from_member(msg, mail_from):
            await self._hold(sender, "non-member", raw)
            return
        if any(a in self.moderated for a in sender):
            await self._hold(sender, "moderated", raw)
            await self.write(liststyles.held_notice(self, msg, sender[0]))
            return
        out = received + self.mailmanise(raw)
        for subscriber, endpoint in list(self.subscribers.items()):
            await self._send(subscriber, endpoint, out)

    def _from_member(self, msg: Message, mail_from: str) -> bool:
        found: list[str] = []
        for name in self.member_fields:
            if name == "envelope":
                found.append(mail_from.lower())
            else:
                found.extend(_addresses(_values(msg, name)))
        return any(a in self.subscribers or a in self.posters for a in found)

    async def _send(self, subscriber: str, endpoint: Endpoint | None, out: bytes) -> None:
        try:
            if endpoint is None:
                assert self.deliver is not None
                result = self.deliver(subscriber, out)
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, self.timeout)
                via = "deliver"
            else:
                await self._smtp(out, self.bounces, subscriber, endpoint)
                via = "smtp"
        except Exception as exc:  # a subscriber's failure is Mailman's bounce, not ours
            self.failures.append((subscriber, f"{type(exc).__name__}: {exc}"))
        else:
            self.distributed.append(Distribution(subscriber, self.bounces, out, via))
        await self._notify()

    async def _hold(self, sender: list[str], reason: str, raw: bytes) -> None:
        self.held.append(Held(sender[0] if sender else "", reason, raw))
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _received_line(self, helo: str, peer: str) -> bytes:
        self._posts += 1
        return (
            f"Received: from {helo} ([{peer}])\n\tby {self.domain} (ForeignList)"
            f" with ESMTP id fl{self._posts}\n\tfor <{self.address}>; {formatdate()}\n"
        ).encode("ascii", errors="replace")

    def _prefix_subject(self, msg: Message) -> None:
        subject = _decoded(msg.get("Subject", ""))
        # Mailman strips its prefix wherever it is, then any reply prefixes, and puts the
        # prefix first again with one "Re: " after it: never "[x] Re: [x] ...".
        subject = " ".join(re.sub(re.escape(self.prefix), " ", subject, flags=re.I).split())
        reply = _REPLY.match(subject)
        rest = subject[reply.end() :] if reply else subject
        new = f"{self.prefix} {'Re: ' if reply else ''}{rest or '(no subject)'}"
        del msg["Subject"]
        msg["Subject"] = new if new.isascii() else Header(new, "utf-8").encode()

    def _add_footer(self, msg: Message, inline: bool = True) -> None:
        ctype = msg.get_content_type()
        plain = not msg.is_multipart() and ctype == "text/plain"
        if inline and plain and self._footer_inline(msg):
            return
        footer = Message()
        footer["Content-Type"] = 'text/plain; charset="us-ascii"'
        footer["Content-Transfer-Encoding"] = "7bit"
        footer["Content-Disposition"] = "inline"
        footer.set_payload(self.footer)
        if ctype == "multipart/mixed":
            msg.attach(footer)
            return
        # Anything else is wrapped: the original becomes the first part of a mixed one.
        inner = Message()
        names = list(dict.fromkeys(k for k in msg if k.lower().startswith("content-")))
        for name in names:
            for value in msg.get_all(name) or []:
                inner[name] = value
            del msg[name]
        inner.set_payload(msg.get_payload())
        msg.set_payload([inner, footer])
        if not msg["MIME-Version"]:
            msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = "multipart/mixed"
        msg.set_boundary(f"===============fl{self._posts}{id(msg)}==")

    def _footer_inline(self, msg: Message) -> bool:
        """Append the footer to a text/plain body; False if its charset will not let us."""
        data = msg.get_payload(decode=True)
        charset = msg.get_content_charset() or "us-ascii"
        try:
            text = data.decode(charset) if isinstance(data, bytes) else ""
        except (LookupError, UnicodeDecodeError):
            return False
        text = text.replace("\r\n", "\n")
        text += ("" if not text or text.endswith("\n") else "\n") + self.footer
        out_charset = "us-ascii" if text.isascii() else "utf-8"
        encoded = text.encode(out_charset)
        if self.body_encoding == "base64":
            payload = base64.encodebytes(encoded).decode("ascii")
        elif self.body_encoding == "quoted-printable":
            payload = quopri.encodestring(encoded).decode("ascii")
        else:
            payload = encoded.decode("ascii", errors="surrogateescape")
        cte = "7bit" if out_charset == "us-ascii" and self.body_encoding == "8bit" else None
        del msg["Content-Transfer-Encoding"]
        msg["Content-Transfer-Encoding"] = cte or self.body_encoding
        if not msg["Content-Type"]:
            msg["Content-Type"] = "text/plain"
        msg.set_param("charset", out_charset)
        msg.set_payload(payload)
        return True

    def _munge_from(self, msg: Message) -> None:
        original = msg.get("From", "")
        name, address = parseaddr(_decoded(original))
        shown = f"{name or address.partition('@')[0]} via {self.name}"
        reply_to = [str(v) for v in msg.get_all("Reply-To") or []]
        del msg["From"]
        del msg["Reply-To"]
        if shown.isascii():  # quoted as Mailman writes it, even where no quotes are needed
            quoted = shown.replace("\\", "\\\\").replace('"', '\\"')
            msg["From"] = f'"{quoted}" <{self.address}>'
        else:
            msg["From"] = formataddr((shown, self.address), charset="utf-8")
        msg["Reply-To"] = ", ".join([str(original), *reply_to])


def reply_all(
    to: Message, sender: str, body: str, *, name: str = "", message_id: str = ""
) -> tuple[bytes, list[str]]:
    """The reply a mail program writes when `sender` presses Reply-All on `to`, and the
    addresses it goes to: Reply-To (else From), To and Cc, each once, never the sender
    (as Thunderbird, Gmail and Apple Mail do)."""
    first = _addresses(to.get_all("Reply-To") or []) or _addresses(to.get_all("From") or [])
    others = _addresses((to.get_all("To") or []) + (to.get_all("Cc") or []))
    rcpts = [a for a in dict.fromkeys(first + others) if a != sender.lower()]
    subject = _decoded(to.get("Subject", ""))
    msg = EmailMessage()
    msg["From"] = formataddr((name, sender)) if name else sender
    msg["To"] = ", ".join(rcpts[:1])
    if rcpts[1:]:
        msg["Cc"] = ", ".join(rcpts[1:])
    msg["Subject"] = subject if _REPLY.match(subject) else f"Re: {subject}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid("reply", sender.rpartition("@")[2])
    parent = str(to.get("Message-ID", "")).strip()
    msg["In-Reply-To"] = parent
    msg["References"] = " ".join([*str(to.get("References", "")).split(), parent]).strip()
    msg.set_content(body, cte="8bit")
    return msg.as_bytes(policy=email.policy.SMTP.clone(linesep="\n")), rcpts


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def flatten(msg: Message) -> bytes:
    """A message as the list writes it: no refolding, LF line ends."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_OUT).flatten(msg)
    return out.getvalue()


def _values(msg: Message, name: str) -> list[str]:
    return [_decoded(v) for v in msg.get_all(name) or []]


def _addresses(values: Iterable[str]) -> list[str]:
    return [a.lower() for _, a in getaddresses([str(v) for v in values]) if "@" in a]


def _decoded(value: object) -> str:
    """A header value as text, RFC 2047 words decoded; as it stands if that fails."""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)
