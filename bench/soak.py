#!/usr/bin/env python3
"""Soak: faults, full disks and hostile clients against a real `listfed serve` (issue 22).

Each scenario runs its own `listfed serve` (bench/fanout.py's Daemon, a fresh data dir in
a temporary folder) delivering to a recording smarthost in this process, and prints:
posts accepted (a 250 at the clients), copies delivered, lost (accepted posts whose copy
never reached every member), duplicates (copies beyond one per member per post), the
reply codes the clients saw, the time to recover (end of the fault -> the last missing
copy delivered) and the daemon's peak RSS (VmHWM).

  kill     kill -9 storm: 4 clients post a burst while serve is SIGKILLed and restarted
           (same data dir, same port); the clients retry what got no 250
  outage   the smarthost refuses connections, then answers 451 to RCPT, mid-run
  disk     the data dir is a small tmpfs, filled up mid-run and then freed (needs root:
           `mount -t tmpfs`; skipped with the reason otherwise)
  hostile  150 idle connections from 127.0.0.2, a client dripping DATA at 1 byte/s, an
           RCPT flood of 10,000, a 2 MB line, SMTP smuggling; a normal client posts
  cli      `listfed lists ls`, `members ls`, `archive search`, `members add` in a loop
           while posts flow at ~50/s

    python bench/soak.py                      # every scenario, ~10 minutes
    python bench/soak.py --quick              # smaller sizes, ~4 minutes
    python bench/soak.py --scenario hostile   # one scenario

Only loopback is used. Every wait is bounded (--timeout per scenario), every
subprocess has a timeout, and the tmpfs is unmounted in all cases.
"""

# A harness, not a server: it reads files and runs short commands from coroutines.
# ruff: noqa: ASYNC109, ASYNC110, ASYNC240

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fanout import (
    DOMAIN,
    LIST,
    LISTFED,
    SENDER,
    Daemon,
    cli,
    free_port,
    git_commit,
    machine,
    make_message,
    status_kb,
)

HERE = Path(__file__).resolve().parent
OTHER = f"other@{DOMAIN}"  # the list `members add` writes to in the cli scenario
SCENARIOS = ("kill", "outage", "disk", "hostile", "cli")
TITLES = {
    "kill": "kill -9 storm",
    "outage": "smarthost outage",
    "disk": "full disk",
    "hostile": "hostile clients",
    "cli": "CLI beside load",
}
MID_RE = re.compile(rb"(?im)^message-id:[ \t]*(?:\r\n[ \t]+)?<([^>\s]+)>")


# -- the smarthost: records every copy it accepted ----------------------------------------


class Sink:
    """A minimal ESMTP smarthost (PIPELINING) that notes each copy it accepted with a 250
    after DATA: (Message-ID, recipient) -> [(monotonic time, envelope number)].

    `mode`: "up"; "closed" (no listener: connections are refused, and open connections
    get 421 at their next command); "451" (every RCPT gets 451, DATA then 554).
    `delay`: seconds to wait before the 250 after DATA; the copy counts when it is sent."""

    def __init__(self) -> None:
        self.mode = "up"
        self.delay = 0.0  # seconds before the 250 after DATA (a slow smarthost)
        self.copies: dict[tuple[str, str], list[tuple[float, int]]] = {}
        self.longest: dict[str, int] = {}  # Message-ID -> its longest line as delivered
        self.envelopes = 0
        self.connections = 0
        self.given: Counter[str] = Counter()  # refusals this sink answered, by code
        self.server: asyncio.Server | None = None
        self.port = 0
        self.open: set[_SinkProtocol] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _SinkProtocol(self), "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    def stop_listening(self) -> None:
        if self.server is not None:
            self.server.close()  # the listening socket only: not awaited (3.12 waits for all)
            self.server = None

    async def go(self, mode: str) -> None:
        if mode == "closed":
            self.stop_listening()
        elif self.server is None:
            await self.start()  # the same port again
        self.mode = mode

    def close(self) -> None:
        self.stop_listening()
        for p in list(self.open):
            if p.transport is not None:
                p.transport.close()

    def record(self, body: bytes, rcpts: list[str]) -> None:
        head = body.split(b"\r\n\r\n", 1)[0]
        m = MID_RE.search(head)
        mid = m.group(1).decode(errors="replace") if m else ""
        longest = max((len(line) for line in body.split(b"\r\n")), default=0)
        self.longest[mid] = max(self.longest.get(mid, 0), longest)
        self.envelopes += 1
        now = time.monotonic()
        for r in rcpts:
            self.copies.setdefault((mid, r.lower()), []).append((now, self.envelopes))

    def copies_to(self, rcpt_filter: Callable[[str], bool]) -> int:
        return sum(len(v) for (_, r), v in self.copies.items() if rcpt_filter(r))


class _SinkProtocol(asyncio.Protocol):
    EHLO = b"250-soak.smarthost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n"

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buf = bytearray()
        self.in_data = False
        self.scan = 0
        self.rcpts: list[str] = []
        self.transport: asyncio.WriteTransport | None = None
        self.closed = False
        self.waiting = False  # a delayed 250 is due: read nothing more until it is sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport
        self.sink.connections += 1
        self.sink.open.add(self)
        if self.sink.mode == "closed":
            self._bye([])
            return
        transport.write(b"220 soak.smarthost ESMTP\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.sink.open.discard(self)

    def _bye(self, out: list[bytes]) -> None:
        self.sink.given["421"] += 1
        assert self.transport is not None
        self.transport.write(b"".join([*out, b"421 4.3.2 Smarthost going down\r\n"]))
        self.transport.close()
        self.closed = True

    def _accept_later(self, out: list[bytes], body: bytes, rcpts: list[str]) -> None:
        self.waiting = False
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        if self.sink.mode == "closed":
            self._bye(out)
            return
        self.sink.record(body, rcpts)
        self.transport.write(b"".join([*out, b"250 2.0.0 Ok: queued\r\n"]))
        if self.buf:
            self.data_received(b"")

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.buf += data
        if self.waiting:
            return
        out: list[bytes] = []
        while True:
            if self.in_data:
                if self.buf[:3] == b".\r\n":
                    end, skip = 0, 3
                else:
                    i = self.buf.find(b"\r\n.\r\n", max(0, self.scan - 4))
                    if i < 0:
                        self.scan = len(self.buf)
                        break
                    end, skip = i + 2, i + 5
                body = bytes(self.buf[:end])
                del self.buf[:skip]
                self.in_data, self.scan = False, 0
                if self.sink.mode == "closed":
                    self._bye(out)
                    return
                if self.sink.delay > 0:
                    self.waiting = True
                    asyncio.get_running_loop().call_later(
                        self.sink.delay, self._accept_later, out, body, self.rcpts
                    )
                    self.rcpts = []
                    return
                self.sink.record(body, self.rcpts)
                self.rcpts = []
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            i = self.buf.find(b"\r\n")
            if i < 0:
                break
            line = bytes(self.buf[:i])
            del self.buf[: i + 2]
            verb = line[:4].upper()
            if self.sink.mode == "closed" and verb != b"QUIT":
                self._bye(out)
                return
            if verb == b"RCPT":
                if self.sink.mode == "451":
                    self.sink.given["451"] += 1
                    out.append(b"451 4.3.0 Try again later\r\n")
                else:
                    addr = line.split(b"<", 1)[-1].split(b">", 1)[0].decode(errors="replace")
                    self.rcpts.append(addr)
                    out.append(b"250 2.1.5 Ok\r\n")
            elif verb == b"MAIL":
                self.rcpts = []
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"DATA":
                if self.rcpts:
                    self.in_data, self.scan = True, 0
                    out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                else:
                    out.append(b"554 5.5.1 Error: no valid recipients\r\n")
            elif verb == b"EHLO":
                out.append(self.EHLO)
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                assert self.transport is not None
                self.transport.write(b"".join(out))
                self.transport.close()
                self.closed = True
                return
            elif verb in (b"HELO", b"RSET", b"NOOP"):
                if verb == b"RSET":
                    self.rcpts = []
                out.append(b"250 2.0.0 Ok\r\n")
            else:
                out.append(b"502 5.5.2 Command not recognised\r\n")
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


# -- SMTP clients ---------------------------------------------------------------------------


class Conn:
    """One raw SMTP connection to the daemon (asyncio streams), so that every reply code
    is seen as sent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r = reader
        self.w = writer

    @staticmethod
    async def open(port: int, source: str | None = None, timeout: float = 10.0) -> Conn:
        local = (source, 0) if source else None
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=local), timeout
        )
        return Conn(r, w)

    async def reply(self, timeout: float = 30.0) -> tuple[str, str]:
        lines: list[bytes] = []
        while len(lines) < 100:
            line = await asyncio.wait_for(self.r.readline(), timeout)
            if not line:
                raise ConnectionResetError("closed by the server")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        text = b"".join(lines).decode(errors="replace").strip()
        return lines[-1][:3].decode(errors="replace"), text

    async def send(self, data: bytes) -> None:
        self.w.write(data)
        await self.w.drain()

    async def cmd(self, line: str, timeout: float = 30.0) -> tuple[str, str]:
        await self.send(line.encode() + b"\r\n")
        return await self.reply(timeout)

    async def closed_by_server(self) -> bool:
        """Has the server closed this connection? (a read that sees EOF at once)"""
        try:
            got = await asyncio.wait_for(self.r.read(1), 0.05)
        except TimeoutError:
            return False
        except (ConnectionError, OSError):
            return True
        return got == b""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.w.close()


def stuffed(raw: bytes) -> bytes:
    """`raw` as DATA sends it: dot-stuffed, ending in CRLF . CRLF."""
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    out = raw.replace(b"\r\n.", b"\r\n..")
    if out.startswith(b"."):
        out = b"." + out
    return out + b".\r\n"


def failure(exc: BaseException) -> str:
    """A code for a transaction that ended without a reply."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "dropped"


async def greet(port: int, source: str | None, timeout: float) -> tuple[Conn | None, str]:
    """Connect, read the greeting, EHLO: (connection, "250") or (None, what went wrong)."""
    try:
        conn = await Conn.open(port, source, timeout)
    except (OSError, TimeoutError) as exc:
        return None, failure(exc)
    try:
        code, _ = await conn.reply(timeout)
        if code == "220":
            code, _ = await conn.cmd("EHLO soak.client.example", timeout)
    except (OSError, TimeoutError) as exc:
        code = failure(exc)
    if code != "250":
        conn.close()
        return None, code
    return conn, code


async def transaction(
    conn: Conn, raw: bytes, rcpts: Iterable[str], timeout: float, sender: str = SENDER
) -> str:
    """MAIL, RCPT(s), DATA: the code that decided it."""
    code, _ = await conn.cmd(f"MAIL FROM:<{sender}>", timeout)
    if code != "250":
        return code
    ok, last = 0, ""
    for r in rcpts:
        code, _ = await conn.cmd(f"RCPT TO:<{r}>", timeout)
        if code == "250":
            ok += 1
        else:
            last = code
    if not ok:
        return last
    code, _ = await conn.cmd("DATA", timeout)
    if code != "354":
        return code
    await conn.send(stuffed(raw))
    code, _ = await conn.reply(timeout)
    return code


class Poster:
    """A sending client as an MTA runs one: a connection kept between posts, a fresh
    one after anything but a 250."""

    def __init__(self, port: int, source: str | None = None) -> None:
        self.port = port
        self.source = source
        self.conn: Conn | None = None

    async def send(self, raw: bytes, rcpts: Iterable[str] = (LIST,), timeout: float = 30.0) -> str:
        if self.conn is None:
            self.conn, code = await greet(self.port, self.source, timeout)
            if self.conn is None:
                return code
        try:
            code = await transaction(self.conn, raw, rcpts, timeout)
        except (OSError, TimeoutError) as exc:
            code = failure(exc)
        if code != "250":
            self.close()
        return code

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Codes:
    """Every transaction's deciding code, with its time, to split by phase later."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def add(self, code: str) -> None:
        self.seen.append((time.monotonic(), code))

    def counter(self, start: float = 0.0, end: float = float("inf")) -> Counter[str]:
        return Counter(c for t, c in self.seen if start <= t < end)


async def until_accepted(poster: Poster, raw: bytes, deadline: float, codes: Codes) -> bool:
    """Send until a 250 (True), a 5xx or the deadline (False), backing off 0.1 -> 2 s."""
    pause = 0.1
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            codes.add("gave up")
            return False
        code = await poster.send(raw, timeout=min(30.0, max(left, 1.0)))
        codes.add(code)
        if code == "250":
            return True
        if code.startswith("5"):
            return False
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(2.0, pause * 2)


@dataclass
class Traffic:
    """Posts sent by `pump`: Message-ID -> bytes, and when each was accepted."""

    sent: dict[str, bytes] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)
    codes: Codes = field(default_factory=Codes)


async def pump(
    port: int,
    make: Callable[[int], tuple[str, bytes]],
    traffic: Traffic,
    deadline: float,
    *,
    count: int | None = None,
    rate: float | None = None,
    clients: int = 1,
    stop: asyncio.Event | None = None,
) -> None:
    """`clients` posters sharing `count` posts (or until `stop`), post i due at i/`rate`
    seconds (None: back to back); each retried until accepted or the deadline."""
    t0 = time.monotonic()

    async def client(k: int) -> None:
        poster = Poster(port)
        i = k
        try:
            while (count is None or i < count) and time.monotonic() < deadline:
                if stop is not None and stop.is_set():
                    break
                if rate:
                    wait = t0 + i / rate - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                mid, raw = make(i)
                traffic.sent[mid] = raw
                if await until_accepted(poster, raw, deadline, traffic.codes):
                    traffic.accepted[mid] = time.monotonic()
                i += clients
        finally:
            poster.close()

    await asyncio.gather(*(client(k) for k in range(clients)))


def maker(tag: str, seed: int, size: int = 2048) -> Callable[[int], tuple[str, bytes]]:
    """Post number n of a scenario: ~2 KB of prose with a Message-ID unique to the run."""
    rng = random.Random(seed)
    run = f"{os.getpid():x}{int(time.time()) & 0xFFFFF:x}"

    def make(n: int) -> tuple[str, bytes]:
        raw = make_message(n, rng, size).replace(b"<bench.", f"<soak-{tag}-{run}.".encode(), 1)
        m = MID_RE.search(raw)
        assert m is not None
        return m.group(1).decode(), raw

    return make


# -- the daemon -----------------------------------------------------------------------------


class SoakDaemon(Daemon):
    """fanout's Daemon with the [smtp] and [delivery] keys a scenario needs, [dns] on a
    closed loopback port (nothing asks the system resolver), `dmarc none` on the list,
    optionally the web face, a log appended across restarts, and kill -9."""

    def __init__(
        self,
        workdir: Path,
        sink_port: int,
        members: int,
        smtp: str = "",
        delivery: str = "",
        web: bool = False,
    ) -> None:
        super().__init__(workdir, sink_port, members)
        self.smtp = smtp
        self.delivery = delivery
        self.web_port = free_port() if web else 0
        self.hwm_kb = 0  # VmHWM, the largest of every incarnation
        self.starts = 0
        self.stopping = False  # stop() was called: an exit is ours, not a crash
        self.children_at_kill: list[int] = []  # how many children serve had at each kill
        self.notes: list[str] = []

    @property
    def db(self) -> Path:
        return self.workdir / "var" / "listfed.db"

    def member_addresses(self) -> list[str]:
        return [f"user{i:04d}@example.net" for i in range(1, self.members + 1)]

    def prepare(self) -> None:
        web = f"127.0.0.1:{self.web_port}" if self.web_port else ""
        self.config.write_text(
            '[node]\nname = "bench.example.org"\n'
            f'domains = ["{DOMAIN}"]\ndata_dir = "var"\n'
            f'[smtp]\nlisten = "127.0.0.1:{self.port}"\n{self.smtp}'
            f'[delivery]\nsmarthost = "smtp://127.0.0.1:{self.smarthost_port}"\n{self.delivery}'
            f'[web]\nlisten = "{web}"\n'
            f'[dns]\nnameservers = ["127.0.0.1:{free_port()}"]\ntimeout = "1s"\n'
        )
        cli(self.config, "init")
        cli(self.config, "lists", "create", LIST, "--policy", "open")
        cli(self.config, "lists", "set", LIST, "dmarc", "none")
        cli(self.config, "lists", "create", OTHER, "--policy", "open")
        if self.members:
            people = self.workdir / "members.txt"
            people.write_text("".join(a + "\n" for a in self.member_addresses()))
            cli(self.config, "members", "import", LIST, str(people))

    async def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        await super().start(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def peak(self) -> None:
        if self.alive():
            with contextlib.suppress(OSError):
                self.hwm_kb = max(self.hwm_kb, status_kb(self.pid, "VmHWM"))

    def children(self) -> list[int]:
        """Pids whose parent is the daemon (the web face's child)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.pid:
                    found.append(int(stat.parent.name))
        return found

    async def kill9(self) -> None:
        """SIGKILL serve, reap it, and see that its children went with it."""
        self.peak()
        kids = self.children()
        self.children_at_kill.append(len(kids))
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        deadline = time.monotonic() + 10
        while kids and time.monotonic() < deadline:
            kids = [k for k in kids if Path(f"/proc/{k}").exists() and not _zombie(k)]
            if kids:
                await asyncio.sleep(0.1)
        for k in kids:
            self.notes.append(f"child {k} outlived a SIGKILL of serve by 10 s: killed")
            with contextlib.suppress(OSError):
                os.kill(k, signal.SIGKILL)

    async def stop(self, timeout: float = 30.0) -> int | None:
        self.peak()
        self.stopping = True
        return await super().stop(timeout)

    def log_lines(self, *words: str) -> Counter[str]:
        """Log lines with any of `words`, by their text without the time and numbers."""
        found: Counter[str] = Counter()
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return found
        for line in text.splitlines():
            if any(w in line for w in words):
                said = re.sub(r"<[^>]*>", "<…>", line.split(" ", 2)[-1])
                found[re.sub(r"\d+", "N", said)[:160]] += 1
        return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def db_query(db: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """A read-only query (the daemon may be running)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def outbox_states(db: Path) -> str:
    """What is left in the outbox, by state ("empty" when delivery is done)."""
    rows = db_query(db, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
    return ", ".join(f"{state} {n}" for state, n in rows) or "empty"


# -- a scenario's figures -----------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    title: str
    setup: str = ""
    members: int = 0
    posts: int = 0  # posts the clients tried to send
    accepted: int = 0  # ... that got a 250
    expected: int = 0  # accepted x members
    delivered: int = 0  # copies of accepted posts to members, duplicates included
    lost: int = 0  # accepted posts some member never got
    missing: int = 0  # copies of accepted posts never delivered
    duplicates: int = 0  # copies beyond one per member per post
    codes: dict[str, int] = field(default_factory=dict)
    recover_s: float | None = None
    finished: bool = False  # every member had every accepted post before the deadline
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    skipped: str = ""
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def judge(self, duplicates: str = "") -> None:
        """Lost posts are a problem; duplicates too, named so, where none are expected."""
        if self.lost:
            self.problems.append(f"{self.lost} accepted post(s) lost ({self.missing} copies)")
        if duplicates and self.duplicates:
            self.problems.append(f"{self.duplicates} {duplicates}")


def account(
    out: Outcome,
    sink: Sink,
    accepted: Iterable[str],
    members: list[str],
    sent: Iterable[str],
    want_all: bool = True,
) -> set[tuple[str, str]]:
    """Fill in delivered, lost, missing, duplicates; the duplicated (mid, member) pairs."""
    accepted = list(accepted)
    out.accepted = len(accepted)
    out.members = len(members)
    out.expected = len(accepted) * len(members)
    doubled: set[tuple[str, str]] = set()
    for mid in accepted:
        got = 0
        for m in members:
            n = len(sink.copies.get((mid, m), ()))
            out.delivered += n
            if n:
                got += 1
            if n > 1:
                out.duplicates += n - 1
                doubled.add((mid, m))
        if got < len(members):
            out.lost += 1
            out.missing += len(members) - got
    taken = set(accepted)
    sent = list(sent)
    if want_all and len(taken) < len(sent):
        out.notes.append(
            f"{len(sent) - len(taken)} post(s) never accepted before the scenario's deadline "
            "(--timeout)"
        )
    ghosts = [
        mid for mid in sent if mid not in taken and any((mid, m) in sink.copies for m in members)
    ]
    if ghosts:
        out.figures.append(
            f"{len(ghosts)} post(s) never got a 250 at the client but were delivered "
            "(accepted by a daemon that was killed before it answered)"
        )
    member_set = set(members)
    others = sink.copies_to(lambda r: r not in member_set)
    if others:
        who = Counter(r for (_, r), v in sink.copies.items() if r not in member_set for _ in v)
        out.figures.append(
            f"{others} other cop(ies) at the smarthost, not to members: "
            + ", ".join(f"{r} ×{n}" for r, n in who.most_common(4))
        )
    return doubled


async def wait_copies(sink: Sink, mids: Iterable[str], members: list[str], deadline: float) -> bool:
    """Until every member has a copy of every post in `mids` (or the deadline)."""
    missing = {(mid, m) for mid in mids for m in members}
    while True:
        missing = {p for p in missing if p not in sink.copies}
        if not missing or time.monotonic() >= deadline:
            return not missing
        await asyncio.sleep(0.25)


def last_first_copy(sink: Sink, mids: Iterable[str], members: list[str]) -> float | None:
    """When the last of the first copies arrived (every member had every post)."""
    times = [
        sink.copies[(mid, m)][0][0] for mid in mids for m in members if (mid, m) in sink.copies
    ]
    return max(times) if times else None


async def settle(daemon: SoakDaemon, seconds: float = 3.0) -> None:
    """Let late copies (a second sending) show: the daemon goes quiet, then a pause."""
    if daemon.alive():
        with contextlib.suppress(OSError, IndexError, ValueError):
            await daemon.settle()
    await asyncio.sleep(seconds)


def codes_text(c: Counter[str] | dict[str, int]) -> str:
    items = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} ×{v:,}" for k, v in items) or "–"


async def cancel(task: asyncio.Future[None] | None) -> None:
    """Stop clients still running (a scenario that stopped early)."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)


def new_workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"listfed-soak-{name}-"))


async def finish(out: Outcome, daemon: SoakDaemon | None, workdir: Path, keep: bool) -> None:
    """Stop the daemon, note how it ended, remove the folder."""
    if daemon is not None:
        if daemon.proc is not None and not daemon.alive() and not daemon.stopping:
            out.problems.append(
                f"listfed serve exited by itself with {daemon.proc.returncode}; log tail:\n"
                + daemon.tail()
            )
        code = await daemon.stop()
        if code not in (0, None):
            out.notes.append(f"serve exited with {code} on SIGTERM")
        out.peak_rss_mb = daemon.hwm_kb / 1024
        out.notes.extend(daemon.notes)
        tracebacks = daemon.log_lines("Traceback")
        if tracebacks:
            out.problems.append(
                f"{sum(tracebacks.values())} traceback(s) in serve's log: see {daemon.log}"
            )
            keep = True
    if keep:
        out.notes.append(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


# -- 1. kill -9 storm ---------------------------------------------------------------------


async def scenario_kill(quick: bool, timeout: float, keep: bool) -> Outcome:
    members, clients, each = (20, 4, 60) if quick else (50, 4, 250)
    marks = [0.2, 0.55] if quick else [0.1, 0.3, 0.5, 0.7]  # accepted fraction -> SIGKILL
    total = clients * each
    out = Outcome("kill", TITLES["kill"])
    out.setup = (
        f"{members} members, {clients} clients × {each} posts back to back, SIGKILL at "
        + ", ".join(f"{m:.0%}" for m in marks)
        + " of the posts accepted and once more while copies are still going out; "
        "the web face on"
    )
    sink = Sink()
    await sink.start()
    workdir = new_workdir("kill")
    retry = '["1s", "2s", "4s", "8s", "15s", "30s"]'
    daemon = SoakDaemon(workdir, sink.port, members, delivery=f"retry = {retry}\n", web=True)
    t_start = time.monotonic()
    senders: asyncio.Future[None] | None = None
    try:
        daemon.prepare()
        await daemon.start()
        make = maker("kill", 1)
        traffic = Traffic()
        deadline = time.monotonic() + timeout
        all_members = daemon.member_addresses()
        kills: list[float] = []
        restarts: list[float] = []
        down: list[float] = []
        senders = asyncio.ensure_future(
            pump(daemon.port, make, traffic, deadline, count=total, clients=clients)
        )

        async def kill_and_restart() -> None:
            await daemon.kill9()
            kills.append(time.monotonic())
            await asyncio.sleep(0.3)
            for attempt in range(3):
                try:
                    await daemon.start()
                    break
                except (RuntimeError, TimeoutError) as exc:
                    out.problems.append(f"restart {attempt + 1} after a SIGKILL failed: {exc}")
                    await asyncio.sleep(2)
            else:
                raise RuntimeError("listfed serve would not restart after a SIGKILL")
            restarts.append(time.monotonic())
            down.append(restarts[-1] - kills[-1])

        for mark in marks:
            while (
                len(traffic.accepted) < mark * total
                and not senders.done()
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.01)
            if senders.done():
                out.notes.append(f"the burst ended before {mark:.0%}: no kill there")
                continue
            await kill_and_restart()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(senders, max(1.0, deadline - time.monotonic()))
        # once more while copies are going out, if any are left
        pending = {(mid, m) for mid in traffic.accepted for m in all_members} - set(sink.copies)
        if pending:
            out.figures.append(f"last kill with {len(pending):,} copies not yet delivered")
            await kill_and_restart()
        else:
            out.notes.append("every copy was out before the last kill: skipped it")
        out.finished = await wait_copies(sink, traffic.accepted, all_members, deadline)
        await settle(daemon)
        out.posts = total
        doubled = account(out, sink, traffic.accepted, all_members, traffic.sent)
        out.codes = dict(traffic.codes.counter())
        end = last_first_copy(sink, traffic.accepted, all_members)
        if end is not None and restarts:
            out.recover_s = max(0.0, end - restarts[-1])
        out.figures.append(
            f"{len(kills)} SIGKILLs; serve listening again {min(down):.1f}–{max(down):.1f} s "
            "after each"
            if down
            else "no kill happened"
        )
        out.figures.append(
            f"{sink.envelopes:,} transactions at the smarthost; serve's children (the web "
            f"face) at each kill: {daemon.children_at_kill}, none left behind"
            + (" (but see the notes)" if daemon.notes else "")
        )
        if doubled:
            # which batch each first copy came in, and how long before the next kill
            batches = {sink.copies[p][0][1] for p in doubled}
            ages = []
            outside = 0
            for p in doubled:
                t1 = sink.copies[p][0][0]
                after = [k - t1 for k in kills if k >= t1]
                if after and min(after) <= 5.0:
                    ages.append(min(after))
                else:
                    outside += 1
            out.figures.append(
                f"duplicates: {len(doubled):,} member copies from {len(batches)} batch(es); "
                + (
                    f"their first copy {min(ages):.2f}–{max(ages):.2f} s before a kill"
                    if ages
                    else ""
                )
            )
            if outside:
                out.problems.append(
                    f"{outside} duplicated copies whose first copy came more than 5 s before "
                    "any kill (not a batch in flight)"
                )
        out.judge()
        out.figures.append(
            f"outbox after the run: {await asyncio.to_thread(outbox_states, daemon.db)}"
        )
    finally:
        out.seconds = time.monotonic() - t_start
        await cancel(senders)
        await finish(out, daemon, workdir, keep)
        sink.close()
    return out


# -- 2. smarthost outage ------------------------------------------------------------------


async def scenario_outage(quick: bool, timeout: float, keep: bool) -> Outcome:
    members, rate = (20, 10.0) if quick else (50, 20.0)
    run_s, down_at, down_s = (20.0, 4.0, 8.0) if quick else (50.0, 10.0, 20.0)
    out = Outcome("outage", TITLES["outage"])
    retry = '["1s", "2s", "4s", "8s", "15s", "30s"]'
    out.setup = (
        f"{members} members, 1 client at {rate:.0f} posts/s for {run_s:.0f} s; from "
        f"{down_at:.0f} s the smarthost refuses connections for {down_s / 2:.0f} s (open ones "
        f"get 421), then answers 451 to every RCPT for {down_s / 2:.0f} s; "
        f"[delivery] retry = {retry}"
    )
    sink = Sink()
    await sink.start()
    workdir = new_workdir("outage")
    daemon = SoakDaemon(workdir, sink.port, members, delivery=f"retry = {retry}\n")
    t_start = time.monotonic()
    senders: asyncio.Future[None] | None = None
    try:
        daemon.prepare()
        await daemon.start()
        all_members = daemon.member_addresses()
        traffic = Traffic()
        deadline = time.monotonic() + timeout
        count = int(rate * run_s)
        senders = asyncio.ensure_future(
            pump(daemon.port, maker("outage", 2), traffic, deadline, count=count, rate=rate)
        )
        t0 = time.monotonic()
        await asyncio.sleep(down_at)
        await sink.go("closed")
        fault0 = time.monotonic()
        delivered0 = sink.envelopes
        await asyncio.sleep(down_s / 2)
        await sink.go("451")
        await asyncio.sleep(down_s / 2)
        await sink.go("up")
        fault1 = time.monotonic()
        during = sink.envelopes - delivered0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(senders, max(1.0, deadline - time.monotonic()))
        posting = time.monotonic() - t0
        out.finished = await wait_copies(sink, traffic.accepted, all_members, deadline)
        await settle(daemon)
        out.posts = len(traffic.sent)
        account(out, sink, traffic.accepted, all_members, traffic.sent)
        out.codes = dict(traffic.codes.counter())
        end = last_first_copy(sink, traffic.accepted, all_members)
        if end is not None:
            out.recover_s = max(0.0, end - fault1)
        out.figures.append(
            f"the smarthost answered {codes_text(sink.given)} during the outage "
            f"({fault1 - fault0:.1f} s), took {during} transaction(s) meanwhile"
        )
        out.figures.append(
            f"posting took {posting:.1f} s ({len(traffic.accepted) / posting:.1f} posts/s)"
        )
        out.figures.append(
            f"outbox after the run: {await asyncio.to_thread(outbox_states, daemon.db)}"
        )
        out.judge("duplicate copies after a smarthost outage")
    finally:
        out.seconds = time.monotonic() - t_start
        await cancel(senders)
        await finish(out, daemon, workdir, keep)
        sink.close()
    return out


# -- 3. full disk -------------------------------------------------------------------------


def fill(path: Path) -> int:
    """Write `path` until the filesystem is full; the bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 512):
            block = b"\0" * chunk
            while True:
                try:
                    written += os.write(fd, block)
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                        break
                    raise
    finally:
        os.close(fd)
    return written


def run(argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


async def scenario_disk(quick: bool, timeout: float, keep: bool) -> Outcome:
    members, rate = (20, 10.0) if quick else (50, 20.0)
    before_s, full_s, after_s = (5.0, 10.0, 5.0) if quick else (10.0, 20.0, 10.0)
    out = Outcome("disk", TITLES["disk"])
    out.setup = (
        f"{members} members, 2 clients at {rate:.0f} posts/s in all; the data dir is a "
        f"64 MB tmpfs, filled with a filler file after {before_s:.0f} s, freed after "
        f"{full_s:.0f} s more; posting goes on {after_s:.0f} s after. From 3 s before the "
        "fill until it is freed the smarthost takes 1 s to answer each DATA (copies are "
        "going out while the disk is full) and a read-only connection holds a read "
        "transaction open (as a backup or an export would), so that SQLite cannot reuse "
        "its WAL and every write needs new space"
    )
    workdir = new_workdir("disk")
    mnt = workdir / "var"
    if os.geteuid() != 0:
        out.skipped = "not root: cannot mount a tmpfs for the data dir"
        shutil.rmtree(workdir, ignore_errors=True)
        return out
    mnt.mkdir()
    try:
        done = run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mnt)])
    except (OSError, subprocess.TimeoutExpired) as exc:
        done = subprocess.CompletedProcess([], 1, "", str(exc))
    if done.returncode != 0:
        out.skipped = f"mount -t tmpfs failed: {done.stderr.strip() or done.returncode}"
        shutil.rmtree(workdir, ignore_errors=True)
        return out
    sink = Sink()
    daemon: SoakDaemon | None = None
    t_start = time.monotonic()
    senders: asyncio.Future[None] | None = None
    try:
        await sink.start()
        daemon = SoakDaemon(workdir, sink.port, members)
        daemon.prepare()
        await daemon.start()
        all_members = daemon.member_addresses()
        traffic = Traffic()
        deadline = time.monotonic() + timeout
        count = int(rate * (before_s + full_s + after_s))
        senders = asyncio.ensure_future(
            pump(
                daemon.port, maker("disk", 3), traffic, deadline, count=count, rate=rate, clients=2
            )
        )
        await asyncio.sleep(before_s - 3.0)
        sink.delay = 1.0
        await asyncio.sleep(3.0)
        filler = mnt / "filler"
        full0 = time.monotonic()
        copies0 = sink.copies_to(lambda r: True)
        reader = sqlite3.connect(
            f"file:{daemon.db}?mode=ro", uri=True, timeout=10, isolation_level=None
        )
        try:
            reader.execute("BEGIN")
            backlog = reader.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            size = await asyncio.to_thread(fill, filler)
            free = os.statvfs(mnt)
            out.figures.append(
                f"filler {size / 1e6:.1f} MB written in {time.monotonic() - full0:.1f} s; "
                f"free after it {free.f_bavail * free.f_frsize} bytes; {backlog} outbox rows "
                "waiting or in flight when it began"
            )
            await asyncio.sleep(full_s)
        finally:
            reader.close()
        copies_full = sink.copies_to(lambda r: True) - copies0
        filler.unlink()
        sink.delay = 0.0
        full1 = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(senders, max(1.0, deadline - time.monotonic()))
        out.finished = await wait_copies(sink, traffic.accepted, all_members, deadline)
        await settle(daemon)
        out.posts = len(traffic.sent)
        account(out, sink, traffic.accepted, all_members, traffic.sent)
        out.codes = dict(traffic.codes.counter())
        end = last_first_copy(sink, traffic.accepted, all_members)
        if end is not None:
            out.recover_s = max(0.0, end - full1)
        phases = (
            ("before", 0.0, full0),
            ("full", full0, full1),
            ("after", full1, float("inf")),
        )
        out.figures.append(
            "codes by phase: "
            + "; ".join(f"{n}: {codes_text(traffic.codes.counter(a, b))}" for n, a, b in phases)
        )
        out.figures.append(
            f"the smarthost took {copies_full:,} copies while the disk was full; "
            f"{sink.envelopes:,} transactions in all"
        )
        paused = daemon.log_lines("delivery outcome not recorded")
        resumed = daemon.log_lines("delivery resumes")
        out.figures.append(
            f"delivery paused {sum(paused.values())} time(s) and resumed "
            f"{sum(resumed.values())} time(s) (serve's log)"
        )
        accepted_full = sum(1 for t in traffic.accepted.values() if full0 <= t < full1)
        out.figures.append(f"posts accepted while the disk was full: {accepted_full}")
        said = daemon.log_lines("ERROR", "WARNING")
        if said:
            out.figures.append(
                "serve's log, warnings and errors (numbers as N): "
                + "; ".join(f"{n} × {t}" for t, n in said.most_common(8))
            )
        full_codes = traffic.codes.counter(full0, full1)
        if not any(c.startswith("4") for c in full_codes):
            out.notes.append("no 4xx at intake while the disk was full (writes still fitted?)")
        await daemon.stop()
        check = await asyncio.to_thread(db_query, daemon.db, "PRAGMA integrity_check")
        verdict = ", ".join(str(r[0]) for r in check)
        left = await asyncio.to_thread(outbox_states, daemon.db)
        out.figures.append(f"PRAGMA integrity_check after the stop: {verdict}; outbox: {left}")
        if verdict != "ok":
            out.problems.append(f"integrity_check: {verdict}")
        if out.duplicates:
            out.problems.append(f"{out.duplicates} duplicate copies around a full disk")
        out.judge()
    finally:
        out.seconds = time.monotonic() - t_start
        await cancel(senders)
        sink.close()
        if daemon is not None:
            await daemon.stop()
        if keep:
            with contextlib.suppress(OSError):
                shutil.copytree(mnt, workdir / "var-copy")
        for argv in (["umount", str(mnt)], ["umount", "-l", str(mnt)]):
            try:
                done = run(argv)
            except (OSError, subprocess.TimeoutExpired) as exc:
                done = subprocess.CompletedProcess(argv, 1, "", str(exc))
            if done.returncode == 0:
                break
            out.notes.append(f"{' '.join(argv[:-1])} failed: {done.stderr.strip()}")
        await finish(out, daemon, workdir, keep)
    return out


# -- 4. hostile clients -------------------------------------------------------------------


async def idle_connections(port: int, n: int, source: str) -> tuple[list[Conn], Counter[str]]:
    """`n` connections that only read the greeting; those greeted with 220 stay open."""
    held: list[Conn] = []
    codes: Counter[str] = Counter()
    for _ in range(n):
        try:
            conn = await Conn.open(port, source, 5.0)
        except (OSError, TimeoutError) as exc:
            codes[failure(exc)] += 1
            continue
        try:
            code, _ = await conn.reply(5.0)
        except (OSError, TimeoutError) as exc:
            code = failure(exc)
        codes[code] += 1
        if code == "220":
            held.append(conn)
        else:
            conn.close()
    return held, codes


@dataclass
class Dripped:
    codes: list[str] = field(default_factory=list)
    cut_after: float | None = None  # seconds of DATA before the server ended it
    sent: int = 0


async def drip(port: int, source: str, raw: bytes, limit: float) -> Dripped:
    """A client that sends DATA one byte a second; what it saw and when it was cut off."""
    got = Dripped()
    conn, code = await greet(port, source, 10.0)
    if conn is None:
        got.codes.append(code)
        return got
    try:
        for line in (f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{LIST}>", "DATA"):
            code, _ = await conn.cmd(line, 10.0)
            got.codes.append(code)
        if code != "354":
            return got
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            try:
                at = got.sent % len(raw)
                await conn.send(raw[at : at + 1])
                got.sent += 1
                line = await asyncio.wait_for(conn.r.readline(), 1.0)
            except TimeoutError:
                continue
            except OSError as exc:
                got.codes.append(failure(exc))
                got.cut_after = time.monotonic() - t0
                break
            got.codes.append(line[:3].decode(errors="replace") if line else "dropped")
            got.cut_after = time.monotonic() - t0
            break
    finally:
        conn.close()
    return got


@dataclass
class Flooded:
    rcpt_codes: Counter[str] = field(default_factory=Counter)
    rcpts_s: float = 0.0
    data_code: str = ""
    spooled: set[int] = field(default_factory=set)  # rows of `spooled` holding the message
    max_items: int = 0  # queue items pointing at them, the most seen at once
    polls: int = 0


async def rcpt_flood(
    port: int, source: str, db: Path, raw: bytes, mid: str, n: int = 10_000
) -> Flooded:
    """One transaction with `n` RCPTs (the list, then n-1 distinct valid addresses),
    pipelined 500 at a time, then DATA; the spool is watched read-only meanwhile."""
    got = Flooded()
    conn, code = await greet(port, source, 10.0)
    if conn is None:
        got.data_code = code
        return got
    done = asyncio.Event()

    def look() -> tuple[list[int], int]:
        rows = db_query(db, "SELECT id FROM spooled WHERE instr(raw, ?) > 0", (mid.encode(),))
        ids = [int(str(r[0])) for r in rows]
        if not ids:
            return ids, 0
        marks = ",".join("?" * len(ids))
        items = db_query(
            db, f"SELECT COUNT(*) FROM queue WHERE spooled_id IN ({marks})", tuple(ids)
        )
        return ids, int(str(items[0][0]))

    async def watch() -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end and not done.is_set():
            with contextlib.suppress(sqlite3.Error):
                ids, items = await asyncio.to_thread(look)
                got.polls += 1
                got.max_items = max(got.max_items, items)
                if got.spooled and not ids:
                    return  # stored, then consumed by the pipeline
                got.spooled.update(ids)
            await asyncio.sleep(0.02)

    t0 = time.monotonic()
    watcher = asyncio.ensure_future(watch())
    try:
        await conn.cmd("MAIL FROM:<flood@example.com>", 10.0)
        addrs = [LIST] + [f"team-confirm+flood{i:05d}@{DOMAIN}" for i in range(1, n)]
        for at in range(0, n, 500):
            chunk = addrs[at : at + 500]
            await conn.send(b"".join(f"RCPT TO:<{a}>\r\n".encode() for a in chunk))
            for _ in chunk:
                c, _ = await conn.reply(60.0)
                got.rcpt_codes[c] += 1
        got.rcpts_s = time.monotonic() - t0
        code, _ = await conn.cmd("DATA", 30.0)
        got.data_code = code
        if code == "354":
            await conn.send(stuffed(raw))
            got.data_code, _ = await conn.reply(120.0)
        with contextlib.suppress(OSError, TimeoutError):
            await conn.cmd("QUIT", 5.0)
    except (OSError, TimeoutError) as exc:
        got.data_code = got.data_code or failure(exc)
        got.rcpts_s = got.rcpts_s or time.monotonic() - t0
    finally:
        conn.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(watcher), 30.0)
    done.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watcher, 5.0)
    return got


async def one_transaction(
    port: int, source: str, raw: bytes, sender: str = SENDER
) -> tuple[str, str]:
    """One post on its own connection: (code, what the connection did afterwards)."""
    conn, code = await greet(port, source, 10.0)
    if conn is None:
        return code, ""
    try:
        code = await transaction(conn, raw, [LIST], 60.0, sender)
        try:
            after, _ = await conn.cmd("NOOP", 5.0)
        except (OSError, TimeoutError) as exc:
            after = failure(exc)
    except (OSError, TimeoutError) as exc:
        code, after = failure(exc), ""
    finally:
        conn.close()
    return code, after


def post_bytes(mid: str, body: bytes, sender: str = SENDER, extra: bytes = b"") -> bytes:
    return (
        f"From: <{sender}>\r\nTo: {LIST}\r\nSubject: soak {mid.split('@')[0]}\r\n"
        f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


async def smuggle(port: int, source: str, sep: bytes, outer: str, inner: str) -> list[str]:
    """A post whose body hides `sep` (a bare-LF end of data) and a second transaction
    behind it; every reply the client got after the body."""
    conn, code = await greet(port, source, 10.0)
    if conn is None:
        return [code]
    replies: list[str] = []
    try:
        for line in ("MAIL FROM:<mallory@example.com>", f"RCPT TO:<{LIST}>", "DATA"):
            code, _ = await conn.cmd(line, 10.0)
            replies.append(code)
        if code != "354":
            return replies
        hidden = (
            b"MAIL FROM:<admin@example.org>\r\n"
            + f"RCPT TO:<{LIST}>\r\n".encode()
            + b"DATA\r\n"
            + post_bytes(
                inner, b"Smuggled: this must never reach the list.\r\n", "admin@example.org"
            )
        )
        payload = (
            post_bytes(outer, b"An ordinary looking post.\r\n", "mallory@example.com")
            + sep
            + hidden
            + b"\r\n.\r\n"
        )
        await conn.send(payload)
        replies.append("|")  # what came before was for the commands before the body
        while len(replies) < 20:
            try:
                code, _ = await conn.reply(3.0)
            except TimeoutError:
                break
            except OSError as exc:
                replies.append(failure(exc))
                break
            replies.append(code)
        with contextlib.suppress(OSError, TimeoutError):
            await conn.cmd("QUIT", 3.0)
    finally:
        conn.close()
    return replies


async def scenario_hostile(quick: bool, timeout: float, keep: bool) -> Outcome:
    members = 20 if quick else 50
    data_timeout = 10 if quick else 20
    normal_posts = 5 if quick else 10
    out = Outcome("hostile", TITLES["hostile"])
    out.setup = (
        f'{members} members; [smtp] data_timeout = "{data_timeout}s", everything else '
        "at its default (max_connections 200, max_connections_per_client 20, "
        "max_recipients 1,000); 150 idle connections from 127.0.0.2, a DATA drip from "
        "127.0.0.3, a 10,000-RCPT flood from 127.0.0.4, a 2 MB line (and a 10 KB one) from "
        "127.0.0.5, 3 smuggling attempts from 127.0.0.6; meanwhile a normal client on "
        f"127.0.0.1 sends {normal_posts} posts, one a second, each on a new connection"
    )
    sink = Sink()
    await sink.start()
    workdir = new_workdir("hostile")
    daemon = SoakDaemon(workdir, sink.port, members, smtp=f'data_timeout = "{data_timeout}s"\n')
    t_start = time.monotonic()
    held: list[Conn] = []
    try:
        daemon.prepare()
        await daemon.start()
        all_members = daemon.member_addresses()
        deadline = time.monotonic() + timeout
        run_id = f"{os.getpid():x}{int(time.time()) & 0xFFFFF:x}"

        def mid(name: str) -> str:
            return f"soak-hostile-{run_id}-{name}@example.org"

        held, idle_codes = await idle_connections(daemon.port, 150, "127.0.0.2")
        t_idle = time.monotonic()

        drip_raw = post_bytes(mid("drip"), b"drip drip drip\r\n" * 20)
        flood_raw = post_bytes(mid("flood"), b"Flood of recipients.\r\n" * 180, "flood@example.com")
        huge_raw = post_bytes(mid("line2mb"), b"x" * (2 << 20) + b"\r\n")
        long_raw = post_bytes(mid("line10k"), b"y" * 10_000 + b"\r\n")
        seps = {"LF.LF": b"\n.\n", "LF.CRLF": b"\n.\r\n", "CRLF.LF": b"\r\n.\n"}
        make = maker("hostile", 4)
        normal: list[tuple[str, float, str]] = []  # mid, seconds to 250, codes
        normal_codes = Codes()

        async def normal_client() -> None:
            await asyncio.sleep(1.0)
            for i in range(normal_posts):
                m, raw = make(i)
                t = time.monotonic()
                poster = Poster(daemon.port, "127.0.0.1")
                ok = await until_accepted(poster, raw, min(deadline, t + 60), normal_codes)
                poster.close()
                normal.append((m, time.monotonic() - t if ok else float("inf"), ""))
                await asyncio.sleep(max(0.0, t + 1.0 - time.monotonic()))

        async def long_lines() -> dict[str, tuple[str, str]]:
            return {
                "2 MB line": await one_transaction(daemon.port, "127.0.0.5", huge_raw),
                "10 KB line": await one_transaction(daemon.port, "127.0.0.5", long_raw),
            }

        async def smuggling() -> dict[str, list[str]]:
            got = {}
            for name, sep in seps.items():
                got[name] = await smuggle(
                    daemon.port, "127.0.0.6", sep, mid(f"outer-{name}"), mid(f"smuggled-{name}")
                )
            return got

        tasks = asyncio.gather(
            drip(daemon.port, "127.0.0.3", drip_raw, data_timeout + 15.0),
            rcpt_flood(daemon.port, "127.0.0.4", daemon.db, flood_raw, mid("flood")),
            long_lines(),
            smuggling(),
            normal_client(),
        )
        try:
            dripped, flood, lines, smuggled, _ = await asyncio.wait_for(
                tasks, max(1.0, deadline - time.monotonic())
            )
        except TimeoutError:
            out.problems.append(f"the hostile clients did not finish within {timeout:.0f} s")
            raise
        still = sum([not await c.closed_by_server() for c in held])
        held_s = time.monotonic() - t_idle
        for c in held:
            c.close()
        held = []
        fault_end = time.monotonic()

        accepted = [m for m, s, _ in normal if s != float("inf")]
        sent = [m for m, _, _ in normal]
        if flood.data_code == "250":
            accepted.append(mid("flood"))
        if lines["10 KB line"][0] == "250":
            accepted.append(mid("line10k"))
        for name in seps:
            if "250" in smuggled[name]:
                accepted.append(mid(f"outer-{name}"))
        if dripped.codes and dripped.codes[-1] == "250":
            accepted.append(mid("drip"))
        sent += [mid("flood"), mid("line10k"), mid("line2mb"), mid("drip")]
        sent += [mid(f"outer-{n}") for n in seps]
        out.finished = await wait_copies(sink, accepted, all_members, deadline)
        await settle(daemon)
        out.posts = len(sent)
        account(out, sink, accepted, all_members, sent, want_all=False)
        out.codes = dict(normal_codes.counter())
        end = last_first_copy(sink, accepted, all_members)
        if end is not None:
            out.recover_s = max(0.0, end - fault_end)
        waits = [s for _, s, _ in normal]
        slowest = max(waits) if waits else float("inf")
        out.figures.append(
            f"normal client (127.0.0.1): {sum(s != float('inf') for s in waits)} of "
            f"{normal_posts} posts accepted, connect -> 250 median "
            f"{sorted(waits)[len(waits) // 2]:.2f} s, slowest {slowest:.2f} s (must be < 5 s)"
        )
        if slowest >= 5.0:
            out.problems.append(
                f"a normal client waited {slowest:.1f} s for its 250 beside hostile clients"
            )
        out.figures.append(
            f"idle ×150 from 127.0.0.2: greetings {codes_text(idle_codes)}; "
            f"{still} of {len(idle_codes) and idle_codes.get('220', 0)} still open "
            f"after {held_s:.0f} s"
        )
        out.figures.append(
            f"DATA drip from 127.0.0.3: codes {' '.join(dripped.codes)}; "
            + (
                f"cut off after {dripped.cut_after:.1f} s of DATA"
                if dripped.cut_after is not None
                else "never cut off"
            )
            + f", {dripped.sent} bytes sent"
        )
        if dripped.cut_after is None or dripped.cut_after > data_timeout + 10:
            out.problems.append(f"the DATA drip was not cut off by data_timeout ({dripped})")
        rows = sorted(flood.spooled)
        out.figures.append(
            f"RCPT flood ×10,000 from 127.0.0.4: RCPT codes {codes_text(flood.rcpt_codes)} "
            f"(in {flood.rcpts_s:.1f} s), DATA {flood.data_code}; rows of `spooled` holding "
            f"it: {len(rows)} (ids {rows}), at most {flood.max_items} queue items on them "
            f"({flood.polls} read-only polls)"
        )
        if len(rows) > 1:
            out.problems.append(f"the 10,000-RCPT message was stored {len(rows)} times")
        if not rows:
            out.notes.append("the flood's spooled row was never seen (consumed between polls?)")
        longest = sink.longest.get(mid("line10k"), 0)
        if longest > 998:
            out.notes.append(
                f"the 10 KB line went on to the smarthost as one {longest:,}-byte line "
                "(RFC 5322 §2.1.1: at most 998): a strict next hop may refuse it"
            )
        out.figures.append(
            "long lines from 127.0.0.5: 2 MB line: "
            f"{lines['2 MB line'][0]} (then NOOP: {lines['2 MB line'][1] or '–'}); "
            f"10 KB line: {lines['10 KB line'][0]}, delivered with its longest line "
            f"{longest:,} bytes"
        )
        if any((mid("line2mb"), m) in sink.copies for m in all_members):
            out.problems.append("the 2 MB-line post was delivered")
        ghosts = [
            n for n in seps if any((mid(f"smuggled-{n}"), m) in sink.copies for m in all_members)
        ]
        out.figures.append(
            "smuggling from 127.0.0.6 (replies after the body follow '|'): "
            + "; ".join(f"{n}: {' '.join(r)}" for n, r in smuggled.items())
            + f"; smuggled messages delivered: {len(ghosts)}"
        )
        for n, r in smuggled.items():
            after = r[r.index("|") + 1 :] if "|" in r else []
            if after.count("250") > 1 or "354" in after:
                out.problems.append(f"smuggling ({n}): the hidden transaction was answered: {r}")
        if ghosts:
            out.problems.append(f"smuggled messages delivered: {ghosts}")
        refusals = daemon.log_lines("refused with 421")
        out.figures.append(f"serve's log: {sum(refusals.values())} line(s) about 421 refusals")
        out.judge("duplicate copies")
    finally:
        for c in held:
            c.close()
        out.seconds = time.monotonic() - t_start
        await finish(out, daemon, workdir, keep)
        sink.close()
    return out


# -- 5. the command line beside load ------------------------------------------------------


OPTIONS = {"cli_rate": 50.0}  # posts/s offered in the cli scenario (--cli-rate)


async def scenario_cli(quick: bool, timeout: float, keep: bool) -> Outcome:
    members, commands, rate = (
        (20, 20, OPTIONS["cli_rate"]) if quick else (20, 100, OPTIONS["cli_rate"])
    )
    clients = max(5, int(rate // 10))
    out = Outcome("cli", TITLES["cli"])
    out.setup = (
        f"{members} members; {clients} clients post at {rate:.0f} posts/s in all while {commands} "
        "commands run one after the other: lists ls, members ls LIST, archive search "
        f"committee, members add {OTHER} (a second list, so the first one's members stay)"
    )
    sink = Sink()
    await sink.start()
    workdir = new_workdir("cli")
    daemon = SoakDaemon(workdir, sink.port, members)
    t_start = time.monotonic()
    senders: asyncio.Future[None] | None = None
    try:
        daemon.prepare()
        await daemon.start()
        all_members = daemon.member_addresses()
        traffic = Traffic()
        deadline = time.monotonic() + timeout
        stop = asyncio.Event()
        senders = asyncio.ensure_future(
            pump(
                daemon.port,
                maker("cli", 5),
                traffic,
                deadline,
                rate=rate,
                clients=clients,
                stop=stop,
            )
        )
        await asyncio.sleep(1.0)  # posts flowing, something in the archive
        n_warm = len(traffic.accepted)
        await asyncio.sleep(3.0)
        alone = (len(traffic.accepted) - n_warm) / 3.0
        kinds = [
            ("lists", "ls"),
            ("members", "ls", LIST),
            ("archive", "search", "committee"),
            ("members", "add", OTHER),
        ]
        failures: list[str] = []
        times: dict[str, list[float]] = {}
        added = 0
        t0 = time.monotonic()
        n0 = len(traffic.accepted)
        for i in range(commands):
            if time.monotonic() > deadline - 30:
                out.notes.append(f"stopped after {i} commands: the scenario's time ran out")
                break
            args = list(kinds[i % len(kinds)])
            if args[1] == "add":
                args.append(f"cli{i:04d}@example.com")
            t = time.monotonic()
            try:
                done = await asyncio.to_thread(
                    subprocess.run,
                    [*LISTFED, "--config", str(daemon.config), *args],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                rc, said = done.returncode, done.stdout + done.stderr
            except subprocess.TimeoutExpired:
                rc, said = -1, "timed out after 60 s"
            times.setdefault(" ".join(args[:2]), []).append(time.monotonic() - t)
            if rc != 0 or "Traceback" in said:
                failures.append(f"{' '.join(args)}: exit {rc}: {said.strip()[-300:]}")
            elif args[1] == "add":
                added += 1
        cli_s = time.monotonic() - t0
        posted = len(traffic.accepted) - n0
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(senders, max(1.0, deadline - time.monotonic()))
        out.finished = await wait_copies(sink, traffic.accepted, all_members, deadline)
        await settle(daemon)
        out.posts = len(traffic.sent)
        account(out, sink, traffic.accepted, all_members, traffic.sent)
        out.codes = dict(traffic.codes.counter())
        ran = sum(len(v) for v in times.values())
        out.figures.append(
            f"CLI: {len(failures)} failure(s) in {ran} commands over {cli_s:.0f} s, "
            f"while {posted / cli_s:.1f} posts/s were accepted ({alone:.1f}/s in the 3 s "
            "before the commands)"
        )
        out.figures.append(
            "CLI wall time median / max: "
            + ", ".join(
                f"{k} {sorted(v)[len(v) // 2]:.2f} / {max(v):.2f} s" for k, v in times.items()
            )
        )
        listed = cli(daemon.config, "members", "ls", OTHER)
        shown = sum(1 for line in listed.splitlines() if "@example.com" in line)
        out.figures.append(f"members add: {added} succeeded, `members ls {OTHER}` shows {shown}")
        if shown != added:
            out.problems.append(f"{added} members added but {shown} listed")
        for f in failures[:5]:
            out.problems.append(f"CLI failure: {f}")
        out.judge("duplicate copies")
    finally:
        out.seconds = time.monotonic() - t_start
        await cancel(senders)
        await finish(out, daemon, workdir, keep)
        sink.close()
    return out


# -- reporting ------------------------------------------------------------------------------


def print_outcome(o: Outcome) -> None:
    print(f"\n== {o.name}: {o.title}")
    if o.setup:
        print(f"  setup        {o.setup}")
    if o.skipped:
        print(f"  SKIPPED      {o.skipped}")
        return
    print(f"  accepted     {o.accepted:,} of {o.posts:,} posts (a 250 at the client)")
    print(
        f"  delivered    {o.delivered:,} copies to members (expected {o.expected:,}: "
        f"{o.accepted:,} posts × {o.members} members)"
    )
    print(f"  lost         {o.lost} posts ({o.missing} copies missing)")
    print(f"  duplicates   {o.duplicates:,}")
    print(f"  codes        {codes_text(o.codes)}")
    rec = f"{o.recover_s:.1f} s" if o.recover_s is not None else "–"
    print(f"  recover      {rec} (end of the fault -> every member has every accepted post)")
    print(f"  peak RSS     {o.peak_rss_mb:.1f} MB (VmHWM; the largest of every serve process)")
    print(f"  wall time    {o.seconds:.0f} s")
    for f in o.figures:
        print(f"  - {f}")
    if not o.finished:
        print(
            "  note: delivery had not finished by the scenario's deadline: lost and missing "
            "count what had not arrived by then (a longer --timeout tells a loss from a delay)"
        )
    for n in o.notes:
        print(f"  note: {n}")
    for p in o.problems:
        print(f"  PROBLEM: {p}")


def summary(results: list[Outcome]) -> None:
    print(
        "\n| scenario | accepted | copies delivered | lost | duplicates | codes at the "
        "clients | time to recover | peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for o in results:
        if o.skipped:
            print(f"| {o.name} | skipped: {o.skipped} | | | | | | |")
            continue
        rec = f"{o.recover_s:.1f} s" if o.recover_s is not None else "–"
        print(
            f"| {o.name} | {o.accepted:,} / {o.posts:,} | {o.delivered:,} / {o.expected:,} "
            f"| {o.lost} | {o.duplicates:,} | {codes_text(o.codes)} | {rec} "
            f"| {o.peak_rss_mb:.0f} MB |"
        )


RUNNERS = {
    "kill": scenario_kill,
    "outage": scenario_outage,
    "disk": scenario_disk,
    "hostile": scenario_hostile,
    "cli": scenario_cli,
}


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scenario", default="all", choices=[*SCENARIOS, "all"])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per scenario (default 300, 150 with --quick)",
    )
    ap.add_argument(
        "--cli-rate",
        type=float,
        default=OPTIONS["cli_rate"],
        help="posts/s offered during the cli scenario (default 50; a client per 10/s)",
    )
    ap.add_argument(
        "--listfed",
        metavar="CMD",
        help="command that runs listfed (default: the listfed next to this Python), "
        'e.g. "python -m listfed" with PYTHONPATH at an older checkout',
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args()
    timeout = args.timeout or (150.0 if args.quick else 300.0)
    OPTIONS["cli_rate"] = args.cli_rate
    if args.listfed:
        LISTFED[:] = shlex.split(args.listfed)
    info = machine()
    rev, dirty = git_commit(HERE)
    print("listfed soak" + (" (--quick sizes)" if args.quick else ""))
    info["bench"] = f"git {rev}" + (" + uncommitted changes" if dirty else "")
    info["listfed"] = " ".join(LISTFED)
    for k, v in info.items():
        print(f"  {k:11s} {v}")
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results: list[Outcome] = []
    t_all = time.monotonic()
    for name in names:
        print(f"\n.. {name}: {TITLES[name]}", flush=True)
        try:
            o = await RUNNERS[name](args.quick, timeout, args.keep)
        except Exception as exc:
            o = Outcome(name, TITLES[name])
            o.problems.append(f"the scenario stopped: {type(exc).__name__}: {exc}")
        print_outcome(o)
        results.append(o)
        sys.stdout.flush()
    summary(results)
    print(f"\ntotal {time.monotonic() - t_all:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "quick": args.quick, "results": [asdict(o) for o in results]},
                indent=2,
            )
        )
    return 1 if any(o.problems for o in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
