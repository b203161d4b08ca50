#!/usr/bin/env python3
"""Fan-out, per-post and intake throughput of a real `listfed serve` on loopback.

The daemon runs as a subprocess (`listfed --config X serve`) on a fresh data dir in a
temporary folder, delivering to a minimal asyncio SMTP responder that runs in this
process on 127.0.0.1 port 0. Posts go in over SMTP with aiosmtplib.

Shapes (see bench/README.md):
  A  fan-out:       1,000 members, 200 posts sent back to back on one connection
  B  per-post cost:    10 members, 2,000 posts sent back to back on one connection
  C  one big list:  10,000 members, 1 post (--members N: another size, the scale curve)
  D  intake:            1 member, 8 concurrent clients x 250 posts = 2,000 posts

    python bench/fanout.py --shape all            # full run
    python bench/fanout.py --shape all --quick    # smoke run, small sizes
    python bench/fanout.py --shape A --profile /tmp/prof   # + py-spy during the run

Only loopback is used. Every wait is bounded (--timeout).
"""

# The harness blocks its own loop only outside the measured window (setup, py-spy start):
# ruff: noqa: ASYNC109, ASYNC220, ASYNC230, ASYNC240

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email.utils
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiosmtplib

HERE = Path(__file__).resolve().parent
_SCRIPT = Path(sys.executable).parent / "listfed"
LISTFED = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "listfed"]
DOMAIN = "lists.example.org"
LIST = f"team@{DOMAIN}"
SENDER = "ada.lovelace@example.org"
TICKS = os.sysconf("SC_CLK_TCK")

# name: (members, posts, clients) -- full sizes, then --quick sizes
SHAPES: dict[str, tuple[int, int, int]] = {
    "A": (1_000, 200, 1),
    "B": (10, 2_000, 1),
    "C": (10_000, 1, 1),
    "D": (1, 2_000, 8),
}
QUICK: dict[str, tuple[int, int, int]] = {
    "A": (100, 20, 1),
    "B": (10, 100, 1),
    "C": (1_000, 1, 1),
    "D": (1, 160, 8),
}
TITLES = {
    "A": "fan-out (1 client, posts back to back)",
    "B": "per-post cost (small list)",
    "C": "one big list, one post",
    "D": "intake (8 concurrent clients)",
}
# Targets, and GNU Mailman 3.3.10 measured on this machine with the same shapes.
TARGETS = {
    "A": "≥ 12,000 recipients/s",
    "B": "≥ 100 posts/s",
    "C": "≤ 0.5 s per 10,000 members",
    "D": "≥ 300 accepted posts/s",
}
MAILMAN = {
    "A": "960–1,280 recipients/s",
    "B": "8–10 posts/s",
    "C": "–",
    "D": "27–69 posts/s (LMTP accept)",
}
RSS_TARGET_MB = 150


# -- the machine ------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "cpu MHz") and key not in cpu:
                cpu[key] = value.strip()
    except OSError:
        pass
    model = (
        f"{cpu.get('model name', '?')} (family {cpu.get('cpu family', '?')} model "
        f"{cpu.get('model', '?')}, {cpu.get('cpu MHz', '?')} MHz)"
    )
    if "hypervisor" in Path("/proc/cpuinfo").read_text():
        model += ", virtual machine"
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        import aiosmtpd  # the daemon's SMTP server library

        aiosmtpd_v = aiosmtpd.__version__
    except Exception:
        aiosmtpd_v = "?"
    return {
        "listfed src": source_digest(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "kernel": platform.release(),
        "nproc": str(os.cpu_count()),
        "affinity": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiosmtplib": aiosmtplib.__version__,
        "aiosmtpd": aiosmtpd_v,
        "calibration": f"{calibrate():.0f} ms for a fixed 1M-step Python loop (lower is faster)",
        "tmpdir": f"{tempfile.gettempdir()}, fsync median {fsync_ms():.2f} ms",
    }


def calibrate(rounds: int = 5) -> float:
    """Median ms for a fixed pure-Python loop: this VM's speed varies from minute to
    minute, so each shape notes it before and after (lower is faster)."""
    times = []
    for _ in range(rounds):
        t = time.process_time()
        x = 0
        for i in range(1_000_000):
            x += i * i
        times.append(time.process_time() - t)
    return 1000 * sorted(times)[rounds // 2]


def fsync_ms(rounds: int = 21) -> float:
    """Median time of one 4 KB write + fsync in the temp dir (SQLite commits pay this)."""
    fd, name = tempfile.mkstemp(prefix="listfed-bench-fsync-")
    times = []
    try:
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(name)
    return 1000 * sorted(times)[rounds // 2]


def git_commit(path: Path) -> tuple[str, bool]:
    """The short commit of the checkout holding `path` ("" if none) and whether `path`
    has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "."],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "", False
    if head.returncode != 0:
        return "", False
    return head.stdout.strip(), bool(dirty.stdout.strip())


def source_digest() -> str:
    """Which listfed was measured: a digest of its .py files (the tree may be uncommitted)."""
    try:
        import listfed

        root = Path(listfed.__file__).parent
    except ImportError:
        return "?"
    h = hashlib.sha256()
    files = sorted(root.rglob("*.py"))
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    newest = max((f.stat().st_mtime for f in files), default=0)
    when = dt.datetime.fromtimestamp(newest, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rev, dirty = git_commit(root)
    commit = f"git {rev}" + (" + uncommitted changes, " if dirty else ", ") if rev else ""
    return f"{commit}sha256:{h.hexdigest()[:12]} ({len(files)} files, newest {when}) in {root}"


# -- the smarthost: a minimal ESMTP responder ---------------------------------------------


class Responder:
    """Counts envelopes and recipients; notes when it accepted the last expected one.
    With `chunking` it offers CHUNKING (RFC 3030) as well, as Postfix does."""

    def __init__(self, chunking: bool = False) -> None:
        self.chunking = chunking
        self.envelopes = 0
        self.recipients = 0
        self.connections = 0
        self.bytes = 0
        self.first_rcpt: float | None = None
        self.last_rcpt: float | None = None
        # the daemon's think time: our reply written -> its next command read, per verb
        self.gaps: dict[bytes, list[float]] = {}
        self.expected = 0
        self.done = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    def reset(self, expected: int) -> None:
        self.envelopes = self.recipients = self.connections = self.bytes = 0
        self.first_rcpt = self.last_rcpt = None
        self.gaps = {}
        self.expected = expected
        self.done = asyncio.Event()
        if expected == 0:
            self.done.set()

    def rcpt(self) -> None:
        now = time.perf_counter()
        self.recipients += 1
        if self.first_rcpt is None:
            self.first_rcpt = now
        self.last_rcpt = now
        if self.recipients >= self.expected:
            self.done.set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _SmtpProtocol(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 5)


class _SmtpProtocol(asyncio.Protocol):
    EHLO = (
        b"250-bench.smarthost\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
        b"250-SIZE 104857600\r\n250 ENHANCEDSTATUSCODES\r\n"
    )
    EHLO_CHUNKING = EHLO.replace(b"250 ENHANCED", b"250-CHUNKING\r\n250 ENHANCED")

    def __init__(self, owner: Responder) -> None:
        self.owner = owner
        self.buf = bytearray()
        self.in_data = False
        self.scan = 0  # where to resume looking for the end of DATA
        self.chunk: int | None = None  # bytes of a BDAT chunk still to come
        self.last = False  # that chunk is the message's last
        self.rcpts = 0
        self.replied = 0.0  # when we last wrote replies
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport
        self.owner.connections += 1
        transport.write(b"220 bench.smarthost ESMTP ready\r\n")

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.in_data and self.chunk is None and self.replied and not self.buf:
            verb = bytes(data[:4]).upper()
            self.owner.gaps.setdefault(verb, []).append(now - self.replied)
        self.buf += data
        out: list[bytes] = []
        while True:
            if self.chunk is not None:
                taken = min(self.chunk, len(self.buf))
                self.owner.bytes += taken
                del self.buf[:taken]
                self.chunk -= taken
                if self.chunk:
                    break
                self.chunk = None
                if not self.rcpts:
                    out.append(b"554 5.5.1 Error: no valid recipients\r\n")
                elif self.last:
                    self.owner.envelopes += 1
                    self.rcpts = 0
                    out.append(b"250 2.0.0 Ok: queued\r\n")
                else:
                    out.append(b"250 2.0.0 Ok\r\n")
                continue
            if self.in_data:
                if self.buf[:3] == b".\r\n":  # empty body
                    end, skip = 0, 3
                else:
                    i = self.buf.find(b"\r\n.\r\n", max(0, self.scan - 4))
                    if i < 0:
                        self.scan = len(self.buf)
                        break
                    end, skip = i, i + 5
                self.owner.bytes += end
                del self.buf[:skip]
                self.in_data, self.scan = False, 0
                if self.rcpts:
                    self.owner.envelopes += 1
                self.rcpts = 0
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            i = self.buf.find(b"\r\n")
            if i < 0:
                break
            line = bytes(self.buf[:i])
            del self.buf[: i + 2]
            verb = line[:4].upper()
            if verb == b"RCPT":
                self.rcpts += 1
                self.owner.rcpt()
                out.append(b"250 2.1.5 Ok\r\n")
            elif verb == b"MAIL":
                self.rcpts = 0
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"DATA":
                self.in_data, self.scan = True, 0
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"BDAT" and self.owner.chunking:
                size, *last = line[5:].split()
                self.chunk, self.last = int(size), last == [b"LAST"]
            elif verb == b"EHLO":
                out.append(self.EHLO_CHUNKING if self.owner.chunking else self.EHLO)
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                assert self.transport is not None
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            elif verb in (b"HELO", b"RSET", b"NOOP"):
                self.rcpts = 0 if verb == b"RSET" else self.rcpts
                out.append(b"250 2.0.0 Ok\r\n")
            else:
                out.append(b"502 5.5.2 Command not recognised\r\n")
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
            self.replied = time.perf_counter()


# -- messages ---------------------------------------------------------------------------

_TEXT = (
    "the committee agreed to meet again next week and review the budget for the spring "
    "campaign while volunteers from each chapter will report on outreach leaflets canvass "
    "numbers and the venue for the regional assembly please bring notes on transport "
    "childcare accessibility and the draft statement which still needs edits from the "
    "working group on housing tenants union rent strike solidarity fund minutes agenda "
    "motion seconded carried abstain quorum treasurer secretary delegate federation"
)
WORDS = tuple(_TEXT.split())


def make_message(n: int, rng: random.Random, size: int = 2048) -> bytes:
    subject = f"Re: minutes of the {rng.choice(WORDS)} meeting, item {n}"
    head = (
        f"From: Ada Lovelace <{SENDER}>\r\n"
        f"To: {LIST}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Message-ID: <bench.{n}.{rng.getrandbits(48):x}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    )
    lines = ["Hi all,", ""]
    body_len = len(head) + 40
    while body_len < size - 80:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 12))]
        line = " ".join(words).capitalize() + "."
        lines.append(line)
        body_len += len(line) + 2
        if rng.random() < 0.2:
            lines.append("")
            body_len += 2
    lines += ["", "In solidarity,", "Ada", ""]
    return (head + "\r\n".join(lines)).encode()


# -- the daemon -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(config: Path, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [*LISTFED, "--config", str(config), *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"listfed {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of stat(5)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the pipeline process of `[node] processes = 2`)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process and its children now alive: (all, the children's)."""
    kids = sum(_cpu_or_zero(c) for c in children(pid))
    return cpu_seconds(pid) + kids, kids


def system_busy() -> tuple[float, float]:
    """CPU seconds all processes spent busy (user, nice, system, irq, softirq) and stolen
    by the hypervisor, from the first line of /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / TICKS, (f[7] if len(f) > 7 else 0) / TICKS


def others_busy(pids: list[int], window: float) -> float:
    """CPU seconds used during `window` by processes other than this one and `pids`."""
    sys0, mine0 = system_busy()[0], time.process_time()
    them0 = sum(_cpu_or_zero(p) for p in pids)
    time.sleep(window)
    them1 = sum(_cpu_or_zero(p) for p in pids)
    return (system_busy()[0] - sys0) - (time.process_time() - mine0) - (them1 - them0)


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):
        return 0.0


async def wait_until_quiet(pids: list[int], limit: float, max_cores: float = 0.15) -> float:
    """Wait (at most `limit` s) until other processes use under `max_cores` of CPU for 2 s
    in a row; returns the seconds waited, or -1 if the machine never got quiet."""
    start = time.monotonic()
    quiet = 0
    while time.monotonic() - start < limit:
        used = await asyncio.to_thread(others_busy, pids, 1.0)
        quiet = quiet + 1 if used < max_cores else 0
        if quiet >= 2:
            return time.monotonic() - start
    return -1.0


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


_CLOSED_DNS = '[dns]\nnameservers = ["127.0.0.1:{}"]\ntimeout = "1s"\n'


class Daemon:
    def __init__(
        self,
        workdir: Path,
        smarthost_port: int,
        members: int,
        extra_config: str = "",
        processes: int = 1,
    ) -> None:
        self.workdir = workdir
        self.processes = processes  # `[node] processes`
        self.extra_config = extra_config  # [node] keys, then tables (bench/oneclick.py)
        self.port = free_port()
        self.config = workdir / "listfed.toml"
        self.log = workdir / "serve.log"
        self.smarthost_port = smarthost_port
        self.members = members
        self.proc: subprocess.Popen[bytes] | None = None
        self.setup: dict[str, float] = {}  # seconds each step of prepare() took
        self.started_s = 0.0  # `serve` started -> listening

    def _step(self, what: str, *args: str, timeout: float = 300) -> None:
        t = time.perf_counter()
        cli(self.config, *args, timeout=timeout)
        self.setup[what] = time.perf_counter() - t

    def prepare(self) -> None:
        # connections and recipients_per_transaction stay at their defaults (4, 100)
        self.config.write_text(
            '[node]\nname = "bench.example.org"\n'
            f'domains = ["{DOMAIN}"]\ndata_dir = "var"\nprocesses = {self.processes}\n'
            # more [node] keys first, then whole tables (bench/oneclick.py)
            + self.extra_config
            + f'[smtp]\nlisten = "127.0.0.1:{self.port}"\n'
            f'[delivery]\nsmarthost = "smtp://127.0.0.1:{self.smarthost_port}"\n'
            # no web face: nothing here reads it, and no port clash
            + '[web]\nlisten = ""\n'
            # any look-up asks a closed loopback port, never the system's resolver:
            # benchmarks use loopback only
            + ("" if "[dns]" in self.extra_config else _CLOSED_DNS.format(free_port()))
        )
        self._step("init", "init")
        # no --owner: owners are members too and would receive every post
        self._step("lists create", "lists", "create", LIST, "--policy", "open")
        # no DMARC look-up of the sender's domain: against the closed port each shape's
        # first post waited for the resolver's 1 s timeout (C: 1.1 of its 1.4 s)
        self._step("lists set", "lists", "set", LIST, "dmarc", "none")
        if self.members:
            people = self.workdir / "members.txt"
            people.write_text(
                "".join(f"user{i:04d}@example.net\n" for i in range(1, self.members + 1))
            )
            # 300 s was the limit of every step: at a million members the import (then
            # 47 s per 100,000) ran into it, and shape C at 1,000,000 never started
            limit = max(300.0, self.members / 1_000)
            self._step("members import", "members", "import", LIST, str(people), timeout=limit)

    async def start(self, timeout: float = 30.0) -> None:
        # appended to: a daemon started again (bench/soak.py) keeps the earlier log
        logf = open(self.log, "ab")  # noqa: SIM115 (kept open for the child's life)
        self.proc = subprocess.Popen(
            [*LISTFED, "--config", str(self.config), "serve"],
            stdout=logf,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        logf.close()
        began = time.perf_counter()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"listfed serve exited with {self.proc.returncode}:\n" + self.tail()
                )
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                self.started_s = time.perf_counter() - began
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError("listfed serve did not start listening\n" + self.tail())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until the daemon stops burning CPU (its last deletes and commits)."""
        deadline = time.monotonic() + timeout
        last = tree_cpu(self.pid)[0]
        while time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            now = tree_cpu(self.pid)[0]
            if now - last <= 0.02:
                return
            last = now

    async def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return self.proc.returncode
            await asyncio.sleep(0.05)
        self.proc.kill()
        self.proc.wait(10)
        return None


# -- a shape ----------------------------------------------------------------------------


@dataclass
class Result:
    shape: str
    members: int
    posts: int
    clients: int
    expected_recipients: int
    delivered_recipients: int = 0
    envelopes: int = 0
    finished: bool = False
    seconds: float = 0.0  # first connect -> last expected recipient accepted
    accept_seconds: float = 0.0  # first connect -> last 250 at the client
    recipients_per_s: float = 0.0
    posts_per_s: float = 0.0
    accepted_posts_per_s: float = 0.0
    daemon_cpu_s: float = 0.0
    daemon_cpu_ms_per_post: float = 0.0
    bench_cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    rss_at_start_mb: float = 0.0
    setup_s: dict[str, float] = field(default_factory=dict)  # each CLI step before `serve`
    start_s: float = 0.0  # `serve` started -> listening
    first_rcpt_s: float = 0.0  # first connect -> first recipient at the smarthost
    # the daemon's think time at the smarthost, ms: median / p90 / count per verb
    smarthost_gaps_ms: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    calibration_ms: tuple[float, float] = (0.0, 0.0)  # the fixed loop, before and after
    other_cpu_s: float = 0.0  # CPU used by other processes on the machine during the run
    steal_s: float = 0.0  # CPU time the hypervisor stole during the run
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)


async def send_posts(port: int, messages: list[bytes], ends: list[float]) -> None:
    """One client, one connection, posts sent one after the other."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=120)
    await client.connect()
    try:
        for raw in messages:
            await client.sendmail(SENDER, [LIST], raw)
            ends.append(time.perf_counter())
    finally:
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()


async def py_spy(pid: int, out: Path, rate: int) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("  (py-spy not found: pip install py-spy)", flush=True)
        return None
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--threads",
            "--rate",
            str(rate),
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    await asyncio.sleep(1.0)  # let it attach
    return proc


async def run_shape(
    name: str,
    sizes: tuple[int, int, int],
    responder: Responder,
    timeout: float,
    keep: bool,
    profile: Path | None,
    rate: int,
    quiet_wait: float,
    extra_config: str = "",
    processes: int = 1,
) -> Result:
    members, posts, clients = sizes
    expected = members * posts
    res = Result(name, members, posts, clients, expected)
    workdir = Path(tempfile.mkdtemp(prefix=f"listfed-bench-{name}-"))
    daemon = Daemon(workdir, responder.port, members, extra_config, processes)
    spy: subprocess.Popen[bytes] | None = None
    before = calibrate()
    try:
        daemon.prepare()
        res.setup_s = dict(daemon.setup)
        rng = random.Random(1000 + ord(name))
        messages = [make_message(i, rng) for i in range(posts)]
        res.notes.append(f"message size {min(map(len, messages))}–{max(map(len, messages))} bytes")
        await daemon.start()
        res.start_s = daemon.started_s
        await asyncio.sleep(1.0)  # let the idle workers reach their first wait
        await daemon.settle()
        res.rss_at_start_mb = status_kb(daemon.pid, "VmRSS") / 1024
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            spy = await py_spy(daemon.pid, profile / f"shape-{name}.txt", rate)
        if quiet_wait > 0:
            waited = await wait_until_quiet([daemon.pid, *children(daemon.pid)], quiet_wait)
            if waited < 0:
                res.notes.append(
                    f"other processes kept the machine busy for {quiet_wait:.0f} s;"
                    " measuring anyway"
                )
            elif waited > 3:
                res.notes.append(f"waited {waited:.0f} s for other processes to go quiet")
        responder.reset(expected)
        per_client = [messages[i::clients] for i in range(clients)]
        ends: list[float] = []

        (cpu0, kids0), bench0 = tree_cpu(daemon.pid), time.process_time()
        (sys0, steal0), spy0 = system_busy(), _cpu_or_zero(spy.pid) if spy else 0.0
        t0 = time.perf_counter()  # the first SMTP connect
        senders = asyncio.gather(*(send_posts(daemon.port, m, ends) for m in per_client))
        try:
            await asyncio.wait_for(senders, timeout)
        except TimeoutError:
            res.notes.append(f"clients did not finish within {timeout:.0f} s")
        if ends:
            res.accept_seconds = max(ends) - t0
            res.accepted_posts_per_s = len(ends) / res.accept_seconds
        if len(ends) < posts:
            res.notes.append(f"only {len(ends)} of {posts} posts accepted")
        left = max(1.0, timeout - (time.perf_counter() - t0))
        try:
            await asyncio.wait_for(responder.done.wait(), left)
            res.finished = True
        except TimeoutError:
            res.notes.append(f"delivery not finished within {timeout:.0f} s")
        end = responder.last_rcpt if res.finished and responder.last_rcpt else time.perf_counter()
        if expected == 0:
            end = max(ends) if ends else end
        res.seconds = end - t0
        res.first_rcpt_s = responder.first_rcpt - t0 if responder.first_rcpt else 0.0
        bench_cpu = time.process_time() - bench0
        (sys1, steal1), spy1 = system_busy(), _cpu_or_zero(spy.pid) if spy else 0.0
        res.other_cpu_s = max(
            0.0, (sys1 - sys0) - (tree_cpu(daemon.pid)[0] - cpu0) - bench_cpu - (spy1 - spy0)
        )
        res.steal_s = steal1 - steal0
        await daemon.settle()
        cpu1, kids1 = tree_cpu(daemon.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(5)
        await asyncio.sleep(0.5)  # anything doubled would show up here
        res.delivered_recipients = responder.recipients
        for verb, gaps in sorted(responder.gaps.items()):
            gaps.sort()
            res.smarthost_gaps_ms[verb.decode(errors="replace")] = (
                1000 * gaps[len(gaps) // 2],
                1000 * gaps[int(len(gaps) * 0.9)],
                len(gaps),
            )
        res.envelopes = responder.envelopes
        if responder.recipients > expected:
            res.notes.append(f"{responder.recipients - expected} recipients MORE than expected")
        res.recipients_per_s = min(responder.recipients, expected) / res.seconds
        res.posts_per_s = (posts if res.finished else len(ends)) / res.seconds
        res.daemon_cpu_s = cpu1 - cpu0
        res.daemon_cpu_ms_per_post = 1000 * res.daemon_cpu_s / max(1, len(ends))
        if processes == 2:
            res.notes.append(
                f"of the daemon's CPU, its pipeline process: "
                f"{1000 * (kids1 - kids0) / max(1, len(ends)):.2f} ms/post"
            )
        res.bench_cpu_s = bench_cpu
        res.peak_rss_mb = status_kb(daemon.pid, "VmHWM") / 1024
        if not res.finished:
            res.notes.append("daemon log tail:\n" + daemon.tail())
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        res.exit_code = await daemon.stop()
        res.calibration_ms = (before, calibrate())
        if res.exit_code not in (0, None):
            res.notes.append(f"daemon exited with {res.exit_code}")
        if keep:
            res.notes.append(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return res


# -- reporting --------------------------------------------------------------------------


def verdict(r: Result) -> str:
    if not r.finished:
        return "NOT FINISHED"
    ok = {
        "A": r.recipients_per_s >= 12_000,
        "B": r.posts_per_s >= 100,
        "C": r.seconds <= r.members / 20_000,  # 0.5 s at 10,000, 5 s at 100,000
        "D": r.accepted_posts_per_s >= 300,
    }[r.shape]
    return "reached" if ok else "not reached"


def score(r: Result) -> float:
    """The headline figure as a number, larger is better."""
    return {
        "A": r.recipients_per_s,
        "B": r.posts_per_s,
        "C": -r.seconds,
        "D": r.accepted_posts_per_s,
    }[r.shape]


def headline(r: Result) -> str:
    return {
        "A": f"{r.recipients_per_s:,.0f} recipients/s",
        "B": f"{r.posts_per_s:,.1f} posts/s",
        "C": f"{r.seconds:.2f} s",
        "D": f"{r.accepted_posts_per_s:,.1f} accepted posts/s",
    }[r.shape]


def print_result(r: Result) -> None:
    print(
        f"\n== {r.shape}: {TITLES[r.shape]} — {r.members:,} members, {r.posts:,} posts, "
        f"{r.clients} client(s)"
    )
    print(
        f"  delivered        {r.delivered_recipients:,} of {r.expected_recipients:,} "
        f"recipients in {r.envelopes:,} transactions"
    )
    print(f"  time             {r.seconds:.3f} s first connect -> last recipient accepted")
    print(f"  first recipient  {r.first_rcpt_s:.3f} s first connect -> first recipient accepted")
    print(f"  accept time      {r.accept_seconds:.3f} s first connect -> last 250 at the client")
    print(f"  recipients/s     {r.recipients_per_s:,.0f}")
    print(
        f"  posts/s          {r.posts_per_s:,.1f} end to end; "
        f"{r.accepted_posts_per_s:,.1f} accepted at the client"
    )
    print(f"  daemon CPU       {r.daemon_cpu_s:.2f} s = {r.daemon_cpu_ms_per_post:.2f} ms/post")
    print(f"  bench CPU        {r.bench_cpu_s:.2f} s (responder + clients, this process)")
    print(
        f"  daemon RSS       {r.rss_at_start_mb:.1f} MB idle, peak {r.peak_rss_mb:.1f} MB "
        f"(target < {RSS_TARGET_MB} MB)"
    )
    print(
        f"  other processes  {r.other_cpu_s:.2f} CPU s during the run "
        f"({100 * r.other_cpu_s / max(r.seconds, 1e-9):.0f}% of one core); "
        f"hypervisor steal {r.steal_s:.2f} s"
    )
    print(
        f"  machine speed    fixed loop {r.calibration_ms[0]:.0f} ms before, "
        f"{r.calibration_ms[1]:.0f} ms after (lower is faster)"
    )
    if r.setup_s:
        steps = ", ".join(f"{k} {v:.2f}" for k, v in r.setup_s.items())
        print(f"  setup, s         {steps}; serve listening after {r.start_s:.2f}")
    if r.smarthost_gaps_ms:
        print("  daemon think time at the smarthost (our reply -> its next command), ms:")
        print(
            "                   "
            + ", ".join(
                f"before {v} median {m:.2f} p90 {p:.2f} (n={n:,})"
                for v, (m, p, n) in r.smarthost_gaps_ms.items()
            )
        )
    print(
        f"  vs target        {headline(r)} vs {TARGETS[r.shape]}: {verdict(r)} "
        f"(Mailman 3.3.10: {MAILMAN[r.shape]})"
    )
    for note in r.notes:
        print(f"  note: {note}")


def summary(results: list[Result]) -> None:
    print(
        "\n| shape | result | target | reached | Mailman 3.3.10 | recipients/s | posts/s "
        "| daemon CPU ms/post | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.shape} | {headline(r)} | {TARGETS[r.shape]} | {verdict(r)} "
            f"| {MAILMAN[r.shape]} | {r.recipients_per_s:,.0f} | {r.posts_per_s:,.1f} "
            f"| {r.daemon_cpu_ms_per_post:.2f} | {r.peak_rss_mb:.0f} |"
        )


_ENTRY = (
    "typer/",
    "click/",
    "listfed/cli/",
    "threading.py",
    "concurrent/futures/thread.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
    "<module>",
)


def profile_report(path: Path, top: int = 12) -> None:
    """Self and inclusive shares per function from py-spy's raw (collapsed) stacks.

    py-spy (without --idle) keeps only samples where a thread was running, so the shares
    are of the daemon's busy time, not of wall time: waiting shows up nowhere.
    """
    if not path.exists():
        return
    total = 0
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    package: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    per_thread: dict[str, Counter[str]] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1].split("_")[0]  # "listfed-db", "MainThread"
        funcs = [_short(f) for f in frames[1:]]
        total += n
        threads[thread] += n
        if funcs:
            own[funcs[-1]] += n
            per_thread.setdefault(thread, Counter())[funcs[-1]] += n
            package[_package(funcs[-1])] += n
        for f in set(funcs):
            incl[f] += n
    if not total:
        print(f"  {path}: no samples")
        return
    print(f"\n-- profile {path.name}: {total:,} samples of busy threads")
    print(
        "  by thread: " + ", ".join(f"{t} {100 * n / total:.1f}%" for t, n in threads.most_common())
    )
    print(
        "  self time by package: "
        + ", ".join(f"{p} {100 * n / total:.1f}%" for p, n in package.most_common(10))
    )
    for thread, counter in sorted(per_thread.items(), key=lambda kv: -threads[kv[0]]):
        print(f"  self (leaf frame), thread {thread}:")
        for f, n in counter.most_common(top):
            print(f"    {100 * n / total:5.1f}%  {f}")
    print("  inclusive (entry frames left out):")
    shown = 0
    for f, n in incl.most_common():
        if any(e in f for e in _ENTRY):
            continue
        print(f"    {100 * n / total:5.1f}%  {f}")
        shown += 1
        if shown >= top * 2:
            break


def _package(func: str) -> str:
    file = func.rsplit(" (", 1)[-1].rstrip(")")
    head = file.split("/", 1)[0]
    return head[:-3] if head.endswith(".py") else head


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (pkg/file.py)"
    name, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    file = loc.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/listfed/", "/lib/python3.11/", "/lib/python"):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker == "/listfed/":
                file = "listfed/" + file
            break
    return f"{name} ({file})"


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shape", default="all", choices=["A", "B", "C", "D", "all"])
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument(
        "--members", type=int, default=0, metavar="N", help="shape C with N members (scale curve)"
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per shape (default 600, 120 with --quick)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each shape N times (fresh daemon each time); the summary shows the median run",
    )
    ap.add_argument(
        "--listfed",
        metavar="CMD",
        help="command that runs listfed (default: the listfed next to this "
        "Python), e.g. to compare another checkout or a patched build",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        metavar="S",
        help="before each shape, wait up to S seconds for other processes to "
        "stop using the CPU (0: don't wait); default 120",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run py-spy record on the daemon during each shape, "
        "write collapsed stacks into DIR and print the hot spots",
    )
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    ap.add_argument(
        "--processes",
        type=int,
        choices=[1, 2],
        default=1,
        help="[node] processes: 2 runs the pipeline and delivery in a child process of "
        "the daemon (its CPU counts as the daemon's)",
    )
    args = ap.parse_args()
    timeout = args.timeout or (120.0 if args.quick else 600.0)
    if args.listfed:
        LISTFED[:] = shlex.split(args.listfed)

    info = machine()
    print("listfed fan-out benchmark" + (" (--quick sizes)" if args.quick else ""))
    info["listfed"] = " ".join(LISTFED)
    for k, v in info.items():
        print(f"  {k:11s} {v}")
    if args.profile:
        print("  NOTE: py-spy is sampling the daemon: figures are 10-25 % lower than unprofiled")

    responder = Responder()
    await responder.start()
    shapes = ["A", "B", "C", "D"] if args.shape == "all" else [args.shape]
    sizes = dict(QUICK if args.quick else SHAPES)
    if args.members:  # the scale curve: C with another list size
        sizes["C"] = (args.members, *sizes["C"][1:])
    results: list[Result] = []
    every: list[Result] = []
    try:
        for name in shapes:
            runs = []
            for i in range(max(1, args.repeat)):
                run = f" (run {i + 1} of {args.repeat})" if args.repeat > 1 else ""
                print(f"\n.. shape {name}: {TITLES[name]}{run}", flush=True)
                profile = args.profile / f"run{i + 1}" if args.profile and i else args.profile
                try:
                    r = await run_shape(
                        name,
                        sizes[name],
                        responder,
                        timeout,
                        args.keep,
                        profile,
                        args.rate,
                        args.quiet_wait,
                        processes=args.processes,
                    )
                except Exception as exc:  # e.g. `listfed init` or `serve` failing
                    m, p, c = sizes[name]
                    r = Result(name, m, p, c, m * p, notes=[f"{type(exc).__name__}: {exc}"])
                print_result(r)
                runs.append(r)
                every.append(r)
                if profile:
                    profile_report(profile / f"shape-{name}.txt")
                sys.stdout.flush()
            runs.sort(key=score)
            results.append(runs[len(runs) // 2])
            if len(runs) > 1:
                print(
                    f"\n  {name} over {len(runs)} runs: "
                    + ", ".join(headline(r) for r in runs)
                    + " (sorted); median kept"
                )
    finally:
        await responder.stop()
    summary(results)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "quick": args.quick,
                    "repeat": args.repeat,
                    "results": [asdict(r) for r in results],  # the median run of each shape
                    "runs": [asdict(r) for r in every],
                },
                indent=2,
            )
        )
    return 0 if all(r.finished for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
