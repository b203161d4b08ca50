"""One IMAP connection of a bridge (aioimaplib): connect, log in, select, list new UIDs,
fetch without marking anything seen, and wait in IDLE.

aioimaplib leaves a command waiting forever when the socket closes (its IDLE wait too,
iroco-co/aioimaplib#110). So the connection-lost callback sets an event, and every call
here is raced against that event and a timeout (`_call`): nothing waits unbounded, and a
dead connection is noticed at once. After any error the connection is thrown away.

ImapError (ListfedError, ConnectionError)   the server is unreachable, refused, or went away
├── ImapRefused                            a NO/BAD answer: wrong password, no such mailbox
├── ImapLost                               the connection closed under a command or IDLE
└── ImapTimeout                            no answer in time
"""

from __future__ import annotations

import asyncio
import datetime
import re
import ssl
import urllib.parse
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aioimaplib

from listfed.errors import ListfedError

T = TypeVar("T")

DEFAULT_PORTS = {"imap": 143, "imaps": 993}
# a body fetch may take this long per byte on top of the timeout (a slow link, 256 KiB/s)
SECONDS_PER_BYTE = 1 / (256 * 1024)
LOGOUT_TIMEOUT = 2.0
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImapError(ListfedError, ConnectionError):
    """The IMAP server could not be reached, refused us, or went away; try again later."""


class ImapRefused(ImapError):
    pass


class ImapLost(ImapError):
    pass


class ImapTimeout(ImapError):
    pass


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    tls: bool
    mailbox: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes


def parse_imap_url(url: str) -> tuple[str, int, bool, str]:
    """ "imap://host[:port][/mailbox]" or "imaps://..." -> (host, port, tls, mailbox)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{url!r}: an IMAP URL starts with imap:// or imaps://")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r}: give the username and password as their own keys")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: an IMAP URL has no ?query or #fragment here")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r}: bad port ({exc})") from None
    if port == 0:
        raise ValueError(f"{url!r}: bad port (0)")
    mailbox = urllib.parse.unquote(parts.path.lstrip("/")) or "INBOX"
    if not mailbox.isascii() or re.search(r"[\x00-\x1f\x7f]", mailbox):
        # non-ASCII names would need modified UTF-7, which nothing here writes
        raise ValueError(f"{url!r}: the mailbox name must be printable ASCII")
    return parts.hostname, port or DEFAULT_PORTS[scheme], scheme == "imaps", mailbox


def parse_uidvalidity(lines: Iterable[Any]) -> int:
    """UIDVALIDITY from the untagged `OK [UIDVALIDITY n]` of a SELECT answer."""
    for line in lines:
        if isinstance(line, bytes):
            found = re.search(rb"\[UIDVALIDITY (\d+)\]", line)
            if found:
                return int(found.group(1))
    raise ImapError("the server gave no UIDVALIDITY for the mailbox")


def parse_search(lines: Sequence[Any]) -> list[int]:
    """UIDs of a `UID SEARCH` answer. aioimaplib strips the `SEARCH` word, so the data
    lines are bare numbers; the last line is the tagged status text."""
    uids: list[int] = []
    for line in lines[:-1]:
        if isinstance(line, bytes) and re.fullmatch(rb"[\d ]*", line):
            uids.extend(int(n) for n in line.split())
    return uids


@dataclass
class FetchRecord:
    uid: int | None = None
    size: int | None = None
    body: bytes | None = None


FETCH_START = re.compile(rb"\d+ FETCH \(")


def parse_fetch(lines: Sequence[Any]) -> list[FetchRecord]:
    """The messages of a FETCH answer, as aioimaplib hands it over: `N FETCH (...` lines,
    each literal as one bytearray item after the line that announced it, a closing line,
    and last the tagged status text. Items the server sent on its own (flag changes) come
    out as records without UID, size or body; callers skip what they did not ask for."""
    records: list[FetchRecord] = []
    texts: list[bytes] = []
    for line in lines[:-1]:
        if isinstance(line, bytes) and FETCH_START.match(line):
            records.append(FetchRecord())
            texts.append(line)
        elif not records:
            continue
        elif isinstance(line, bytes):
            texts[-1] += b" " + line
        elif records[-1].body is None:  # a literal: bytearray
            records[-1].body = bytes(line)
    for record, text in zip(records, texts, strict=True):
        uid = re.search(rb"[( ]UID (\d+)", text)
        size = re.search(rb"[( ]RFC822\.SIZE (\d+)", text)
        record.uid = int(uid.group(1)) if uid else None
        record.size = int(size.group(1)) if size else None
    return records


def uid_set(uids: Iterable[int]) -> str:
    """1,2,3,7 -> "1:3,7" (short commands for long runs)."""
    runs: list[list[int]] = []
    for uid in sorted(set(uids)):
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapConnection:
    """A logged-in connection with the mailbox selected; from `connect()`."""

    def __init__(self, imap: Any, lost: asyncio.Event, timeout: float) -> None:
        self._imap = imap
        self.lost = lost
        self.timeout = timeout
        self.uidvalidity = 0
        self.can_idle = False

    async def new_uids(self, after: int, since: datetime.date | None = None) -> list[int]:
        """UIDs above `after`, in order; with `since`, only messages that arrived in the
        mailbox on that day or later (INTERNALDATE). (`n:*` always names the newest
        message, even below n, hence the filter.) SEARCH answers in one line; a big FETCH
        would not, and aioimaplib recurses once per line of a read."""
        await self._call("NOOP", self._imap.noop())  # let the server show new mail
        criteria: tuple[str, ...] = ("UID", f"{after + 1}:*")
        if since is not None:  # RFC 3501 date: 1-Jan-2026, English month names always
            month = _MONTHS[since.month - 1]
            criteria = (*criteria, "SINCE", f"{since.day}-{month}-{since.year}")
        response = await self._ok("UID SEARCH", self._imap.uid_search(*criteria, charset=None))
        return sorted(uid for uid in set(parse_search(response.lines)) if uid > after)

    async def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """UID -> RFC822.SIZE; messages expunged meanwhile are missing."""
        response = await self._ok(
            "UID FETCH", self._imap.uid("fetch", uid_set(uids), "(UID RFC822.SIZE)")
        )
        wanted = set(uids)
        return {
            r.uid: r.size
            for r in parse_fetch(response.lines)
            if r.uid in wanted and r.size is not None
        }

    async def fetch(self, uids: Sequence[int], expected_bytes: int) -> list[Fetched]:
        """The raw messages, in UID order, leaving their flags as they were (PEEK)."""
        response = await self._ok(
            "UID FETCH",
            self._imap.uid("fetch", uid_set(uids), "(UID RFC822.SIZE BODY.PEEK[])"),
            limit=self.timeout + expected_bytes * SECONDS_PER_BYTE,
        )
        wanted = set(uids)
        found = {
            r.uid: r.body
            for r in parse_fetch(response.lines)
            if r.uid in wanted and r.body is not None
        }
        return [Fetched(uid, found[uid]) for uid in sorted(found)]

    async def wait_for_news(self, seconds: float, stop: asyncio.Event) -> bool:
        """IDLE until the server reports a change (True), or `seconds` pass or `stop` is
        set (False); then leave IDLE. Raises ImapLost if the connection drops meanwhile."""
        if stop.is_set():
            return False
        queue = self._imap.protocol.idle_queue
        while not queue.empty():  # pushes left from an earlier IDLE: we sync anyway
            queue.get_nowait()
        # aioimaplib's own renew timer is set past ours, so it never fires first
        idle = await self._call("IDLE", self._imap.idle_start(timeout=seconds + self.timeout))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        news = False
        while not news and (remaining := deadline - loop.time()) > 0:
            push = await self._race(
                "IDLE",
                self._imap.wait_server_push(timeout=remaining + self.timeout),
                stop,
                remaining,
            )
            if push is None:
                break
            # "* OK Still here" keep-alives are not news; anything else (EXISTS, EXPUNGE,
            # FETCH of flags) is, and a sync costs little
            news = push != aioimaplib.STOP_WAIT_SERVER_PUSH and any(
                not bytes(line).startswith(b"OK") for line in push
            )
        if self.lost.is_set():
            raise ImapLost("connection lost during IDLE")
        self._imap.idle_done()
        await self._call("IDLE DONE", idle)
        return news

    async def pause(self, seconds: float, stop: asyncio.Event) -> None:
        """Wait `seconds` or until `stop`; raises ImapLost if the connection drops."""
        await self._race("a pause between polls", asyncio.sleep(seconds), stop, seconds)

    async def close(self, *, logout: bool = True) -> None:
        """Log out (bounded, skipped after an error) and drop the connection."""
        protocol = self._imap.protocol
        if logout and not self.lost.is_set() and protocol.transport is not None:
            try:
                if self._imap.has_pending_idle():
                    self._imap.idle_done()
                await self._call("LOGOUT", self._imap.logout(), LOGOUT_TIMEOUT)
            except ImapError:
                pass
        if protocol.transport is not None:
            protocol.transport.close()
        # aioimaplib's own tasks (IDLE, welcome) would wait forever on a dead connection
        connecting = getattr(self._imap, "_client_task", None)
        for task in [*([connecting] if connecting else []), *self._imap.tasks, *protocol.tasks]:
            if task.done():
                if not task.cancelled():
                    task.exception()  # seen: no "exception was never retrieved" at exit
            else:
                task.cancel()

    async def _ok(self, what: str, aw: Awaitable[Any], limit: float | None = None) -> Any:
        response = await self._call(what, aw, limit)
        if response.result != "OK":
            text = b" ".join(bytes(x) for x in response.lines[-1:]).decode(errors="replace")
            raise ImapRefused(f"{what} refused: {response.result} {text}".strip())
        return response

    async def _call(self, what: str, aw: Awaitable[T], limit: float | None = None) -> T:
        """Await an aioimaplib call, bounded by `limit` seconds (default: the connection's
        timeout) and by the connection's life."""
        limit = self.timeout if limit is None else limit
        task = asyncio.ensure_future(aw)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait(
                {task, lost}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
            task.cancel()  # nothing when it is done
        if task in done:
            try:
                return task.result()
            except (OSError, aioimaplib.AioImapException) as exc:
                raise ImapError(f"{what}: {_describe(exc)}") from exc
        if lost in done:
            raise ImapLost(f"connection lost during {what}")
        raise ImapTimeout(f"{what}: no answer in {limit:g} s")

    async def _race(
        self, what: str, aw: Awaitable[T], stop: asyncio.Event, seconds: float
    ) -> T | None:
        """`aw`'s result, or None when `stop` is set or `seconds` pass first."""
        task = asyncio.ensure_future(aw)
        stopped = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait(
                {task, stopped, lost}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for pending in (task, stopped, lost):
                pending.cancel()
        if task in done and not task.cancelled():
            try:
                return task.result()
            except (OSError, aioimaplib.AioImapException) as exc:
                raise ImapError(f"{what}: {_describe(exc)}") from exc
        if lost in done:
            raise ImapLost(f"connection lost during {what}")
        return None


async def connect(target: ImapTarget, call_timeout: float) -> ImapConnection:
    """Connect, log in, select the mailbox; each step within `call_timeout` seconds.
    Raises ImapError."""
    lost = asyncio.Event()
    # IMAP4_SSL (2.0.3) does not pass conn_lost_cb on, so TLS goes through IMAP4 with a context
    imap = aioimaplib.IMAP4(
        host=target.host,
        port=target.port,
        timeout=call_timeout,
        conn_lost_cb=lambda _exc: lost.set(),
        ssl_context=ssl.create_default_context() if target.tls else None,
    )
    conn = ImapConnection(imap, lost, call_timeout)
    where = f"{target.host}:{target.port}"
    try:
        await conn._call(f"connecting to {where}", imap.wait_hello_from_server())
        await conn._ok(f"LOGIN as {target.username}", imap.login(target.username, target.password))
        # LOGIN's answer adds to the capabilities seen before login; ask again for the real set
        await conn._call("CAPABILITY", imap.protocol.capability())
        conn.can_idle = imap.has_capability("IDLE")
        response = await conn._ok(f"SELECT {target.mailbox}", imap.select(_quote(target.mailbox)))
        conn.uidvalidity = parse_uidvalidity(response.lines)
    except BaseException:
        await conn.close(logout=False)
        raise
    return conn


def _describe(exc: BaseException) -> str:
    text = str(exc)  # empty for aioimaplib's CommandTimeout
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
