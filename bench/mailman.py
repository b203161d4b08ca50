#!/usr/bin/env python3
"""GNU Mailman 3 and listfed side by side in one run (issue 18's "Must show").

Both systems get the same posts from the same injector, deliver to the same raw sink
(bench/fanout.py's `Responder`, in this process) and are measured the same way, shape by
shape, one system after the other:

  A  fan-out:        1,000 members, 200 posts back to back on one connection
  B  per-post cost:     10 members, 2,000 posts back to back on one connection
  D  intake:             1 member, 8 concurrent clients x 250 posts (optional)

Mailman 3 runs from its own virtualenv outside the repository (--mailman-venv, made
with --install), on its defaults: its own var dir in a temp folder, SQLite, all its
runners, its LMTP runner on a free 127.0.0.1 port taking the posts (as Postfix would
hand them over), its outgoing SMTP pointed at the sink. The list is made with
`mailman create`, members added with `mailman addmembers`, and three list settings
changed with `mailman withlist` so that posts go straight through: nonmembers' posts
accepted, DMARC mitigation off, no welcome messages. listfed runs `listfed serve` as
bench/fanout.py does, given LMTP too (`[smtp] lmtp = true`; --listfed-intake smtp
for SMTP), with its list open and `dmarc none`.

    python bench/mailman.py --install          # make /tmp/mailman-venv first (~1 min)
    python bench/mailman.py --quick            # smoke run, small sizes, ~3 min
    python bench/mailman.py                    # A and B at full size, ~6-15 min
    python bench/mailman.py --shape A,B,D --json out.json

Only loopback is used. Every wait is bounded (--timeout per run); Mailman is stopped
with `mailman stop` (its processes killed by pid if it does not) and the temp folders
are removed at the end (--keep keeps them).
"""

# The harness blocks its own loop only outside the measured window (setup, teardown):
# ruff: noqa: ASYNC109, ASYNC110, ASYNC221, ASYNC230

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import fanout
from fanout import (
    LIST,
    SENDER,
    TICKS,
    Daemon,
    Responder,
    calibrate,
    free_port,
    git_commit,
    machine,
    make_message,
    system_busy,
    wait_until_quiet,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VENV = Path("/tmp/mailman-venv")
MAILMAN_REQ = "mailman>=3.3,<3.4"

# name: (members, posts, clients) -- full sizes, then --quick sizes (as bench/fanout.py)
SHAPES = {"A": (1_000, 200, 1), "B": (10, 2_000, 1), "D": (1, 2_000, 8)}
QUICK = {"A": (100, 20, 1), "B": (10, 100, 1), "D": (1, 160, 8)}
TITLES = {
    "A": "fan-out (1 client, posts back to back)",
    "B": "per-post cost (small list, 1 client)",
    "D": "intake (8 concurrent clients)",
}
UNIT = {"A": "recipients/s", "B": "posts/s", "D": "accepted posts/s"}
MEMBER = re.compile(rb"RCPT TO:<user\d{4}@example\.net>", re.IGNORECASE)
RCPT = re.compile(rb"RCPT TO:<([^>]*)>", re.IGNORECASE)


# -- the sink: fanout's responder, also noting recipients that are not members ----------


class Sink(Responder):
    """bench/fanout.py's responder; also tallies RCPTs to anyone but userNNNN@example.net
    (owner notices, bounces: they would count towards the expected total)."""

    def __init__(self) -> None:
        super().__init__()
        self.strangers: dict[str, int] = {}

    def reset(self, expected: int) -> None:
        super().reset(expected)
        self.strangers = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Tally(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]


class _Tally(fanout._SmtpProtocol):
    owner: Sink

    def data_received(self, data: bytes) -> None:
        # The posts' bodies never contain "RCPT TO:<", so a plain scan of every chunk
        # finds the envelope recipients; a command split across two reads is missed
        # (this is a check, not the count: the count is the responder's).
        if b"RCPT" in data or b"rcpt" in data:
            for m in RCPT.finditer(data):
                if not MEMBER.match(m.group(0)):
                    addr = m.group(1).decode(errors="replace")
                    self.owner.strangers[addr] = self.owner.strangers.get(addr, 0) + 1
        super().data_received(data)


# -- the injector: one raw client for both systems, SMTP or LMTP -------------------------


class Refused(Exception):
    pass


async def _reply(reader: asyncio.StreamReader, ok: bytes) -> None:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise Refused("connection closed: " + b" / ".join(lines).decode(errors="replace"))
        lines.append(line.rstrip())
        if line[3:4] != b"-":
            break
    if not lines[-1].startswith(ok):
        raise Refused(b" / ".join(lines).decode(errors="replace"))


def _wire(raw: bytes) -> bytes:
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def inject(port: int, lmtp: bool, messages: list[bytes], ends: list[float]) -> None:
    """One connection; each post MAIL, RCPT, DATA in lock step (each command waits for
    its reply, as aiosmtplib does in bench/fanout.py); LMTP gives one reply after DATA
    per accepted recipient, here one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _reply(reader, b"220")
        writer.write(b"LHLO bench.client\r\n" if lmtp else b"EHLO bench.client\r\n")
        await _reply(reader, b"250")
        mail = f"MAIL FROM:<{SENDER}>\r\n".encode()
        rcpt = f"RCPT TO:<{LIST}>\r\n".encode()
        for raw in messages:
            writer.write(mail)
            await _reply(reader, b"250")
            writer.write(rcpt)
            await _reply(reader, b"250")
            writer.write(b"DATA\r\n")
            await _reply(reader, b"354")
            writer.write(_wire(raw))
            await _reply(reader, b"250")
            ends.append(time.perf_counter())
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(Refused, OSError):
            await asyncio.wait_for(_reply(reader, b"221"), 5)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await asyncio.wait_for(writer.wait_closed(), 5)


# -- processes: a tree's CPU from /proc ---------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def tree(root: int) -> list[int]:
    """`root` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (f := _stat(int(d.name))) is not None:
            children.setdefault(int(f[1]), []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if _stat(pid) is not None:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds per live process of the tree: its own utime + stime, plus cutime +
    cstime (its children that exited and were waited for), from /proc/PID/stat."""
    out = {}
    for pid in tree(root):
        f = _stat(pid)
        if f is not None:
            out[pid] = sum(int(x) for x in f[11:15]) / TICKS  # fields 14-17 of stat(5)
    return out


def proc_name(pid: int) -> str:
    """A Mailman runner's name ("out", "pipeline": its --runner=NAME:0:1), else the
    program's."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    for a in args:
        if a.startswith(b"--runner="):
            return a[9:].split(b":")[0].decode()
    names = [Path(a.decode(errors="replace")).name for a in args[:3] if a]
    return " ".join(n for n in names if not n.startswith("python")) or "?"


def kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def settle(root: int, timeout: float, idle_rate: float) -> float:
    """Wait (at most `timeout` s) until the tree uses no more CPU than when idle (plus a
    little) for 1 s; returns the seconds waited."""
    start = time.monotonic()
    last = sum(tree_cpu(root).values())
    calm = 0
    while time.monotonic() - start < timeout:
        await asyncio.sleep(0.5)
        now = sum(tree_cpu(root).values())
        calm = calm + 1 if now - last <= 0.5 * idle_rate + 0.03 else 0
        last = now
        if calm >= 2:
            break
    return time.monotonic() - start


# -- the two systems ----------------------------------------------------------------------


class Mailman:
    """A GNU Mailman 3 instance in `workdir`, run from `venv`."""

    name = "Mailman"

    def __init__(self, venv: Path, workdir: Path, sink_port: int) -> None:
        self.venv = venv
        self.workdir = workdir
        self.var = workdir / "var"
        self.cfg = workdir / "mailman.cfg"
        self.port = free_port()  # LMTP
        self.rest_port = free_port()
        self.sink_port = sink_port
        self.lmtp = True
        self.pid = 0  # the master's
        self.log = workdir / "start.log"

    def cmd(self, *args: str, timeout: float = 300) -> str:
        root = ["--run-as-root"] if os.geteuid() == 0 else []
        proc = subprocess.run(
            [str(self.venv / "bin" / "mailman"), *root, "-C", str(self.cfg), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
            env={**os.environ, "PYTHONPATH": str(self.workdir)},
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"mailman {' '.join(args)} exited {proc.returncode}: "
                + (proc.stderr.strip() or proc.stdout.strip())[-2000:]
            )
        return proc.stdout

    def prepare(self, members: int) -> None:
        self.cfg.write_text(
            "[mailman]\nlayout: bench\nsite_owner: owner@example.org\n\n"
            f"[paths.bench]\nvar_dir: {self.var}\n\n"
            # no MTA in front: the injector stands in for Postfix, so no alias maps
            "[mta]\nincoming: mailman.mta.null.NullMTA\n"
            f"lmtp_host: 127.0.0.1\nlmtp_port: {self.port}\n"
            f"smtp_host: 127.0.0.1\nsmtp_port: {self.sink_port}\n\n"
            # the REST runner (one of the defaults) on a free loopback port
            f"[webservice]\nhostname: 127.0.0.1\nport: {self.rest_port}\n"
        )
        self.cmd("create", LIST)  # makes the domain too; SQLite in var/data
        if members:
            people = self.workdir / "members.txt"
            people.write_text("".join(f"user{i:04d}@example.net\n" for i in range(1, members + 1)))
            self.cmd("addmembers", "--no-welcome-msg", str(people), LIST, timeout=600)
        (self.workdir / "mmbench_setup.py").write_text(SETUP)
        print("   " + self.cmd("withlist", "-r", "mmbench_setup.configure", "-l", LIST).strip())

    async def start(self, timeout: float = 120) -> None:
        with open(self.log, "wb") as log:  # the master inherits it
            root = ["--run-as-root"] if os.geteuid() == 0 else []
            subprocess.run(
                [str(self.venv / "bin" / "mailman"), *root, "-C", str(self.cfg), "start"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                timeout=60,
                check=True,
            )
        pidfile = self.var / "master.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pidfile.exists() and pidfile.read_text().strip().isdigit():
                self.pid = int(pidfile.read_text().strip())
                break
            await asyncio.sleep(0.1)
        else:
            raise TimeoutError("mailman start: no master.pid\n" + self.tail())
        while time.monotonic() < deadline:
            if _stat(self.pid) is None:
                raise RuntimeError("Mailman's master exited\n" + self.tail())
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                await asyncio.wait_for(reader.readline(), 10)
                writer.close()
                return
            except (OSError, TimeoutError):
                await asyncio.sleep(0.2)
        raise TimeoutError("Mailman's LMTP runner did not start listening\n" + self.tail())

    def tail(self, n: int = 15) -> str:
        text = []
        for f in (self.log, self.var / "logs" / "mailman.log", self.var / "logs" / "smtp.log"):
            with contextlib.suppress(OSError):
                text += [f"-- {f.name}", *f.read_text(errors="replace").splitlines()[-n:]]
        return "\n".join(text)

    def leftovers(self) -> list[str]:
        """Messages still queued (or shunted) after the run."""
        out = []
        queue = self.var / "queue"
        if queue.is_dir():
            for q in sorted(queue.iterdir()):
                n = sum(1 for f in q.iterdir() if f.suffix in (".pck", ".bak", ".psv"))
                if n:
                    out.append(f"{n} message(s) left in Mailman's {q.name} queue")
        return out

    async def stop(self, timeout: float = 60) -> str:
        if not self.pid or _stat(self.pid) is None:
            return ""
        pids = tree(self.pid)
        note = ""
        try:
            self.cmd("stop", timeout=timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            note = f"mailman stop: {exc}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_stat(p) is not None for p in pids):
            await asyncio.sleep(0.2)
        left = [p for p in pids if _stat(p) is not None]
        for p in left:  # only the processes of the master we started, by pid
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
        if left:
            note += f" killed {len(left)} Mailman processes that did not stop"
        return note.strip()


SETUP = '''\
"""Run by `mailman withlist -r mmbench_setup.configure -l LIST` (bench/mailman.py)."""


def configure(mlist):
    from mailman.config import config
    from mailman.interfaces.action import Action
    from mailman.interfaces.mailinglist import DMARCMitigateAction

    mlist.default_nonmember_action = Action.accept  # the sender is not a member
    mlist.dmarc_mitigate_action = DMARCMitigateAction.no_mitigation  # no DNS, no munging
    mlist.send_welcome_message = False
    config.db.commit()
    print(
        "list settings:",
        f"style defaults; member action {mlist.default_member_action.name},",
        f"nonmember action {mlist.default_nonmember_action.name},",
        f"dmarc {mlist.dmarc_mitigate_action.name}, archive_policy",
        f"{mlist.archive_policy.name}, digests_enabled {mlist.digests_enabled},",
        f"personalize {mlist.personalize.name}, members {mlist.members.member_count}",
    )
'''


class Listfed:
    """`listfed serve` as bench/fanout.py runs it (its Daemon), plus LMTP if asked, the
    list open with `dmarc none`, and the resolver pointed at a closed loopback port."""

    name = "listfed"

    def __init__(self, workdir: Path, sink_port: int, lmtp: bool, processes: int = 1) -> None:
        dns = f'[dns]\nnameservers = ["127.0.0.1:{free_port()}"]\ntimeout = "1s"\n'
        self.daemon = Daemon(workdir, sink_port, 0, dns, processes=processes)
        self.lmtp = lmtp
        self.port = self.daemon.port
        self.pid = 0

    def prepare(self, members: int) -> None:
        self.daemon.members = members
        self.daemon.prepare()
        if self.lmtp:
            text = self.daemon.config.read_text()
            self.daemon.config.write_text(text.replace("[smtp]\n", "[smtp]\nlmtp = true\n", 1))
        fanout.cli(self.daemon.config, "lists", "set", LIST, "dmarc", "none")

    async def start(self) -> None:
        await self.daemon.start()
        self.pid = self.daemon.pid

    def tail(self) -> str:
        return self.daemon.tail()

    def leftovers(self) -> list[str]:
        return []

    async def stop(self) -> str:
        code = await self.daemon.stop()
        return "" if code in (0, None) else f"listfed serve exited with {code}"


# -- one run ------------------------------------------------------------------------------


@dataclass
class Run:
    system: str
    shape: str
    members: int
    posts: int
    clients: int
    expected: int
    intake: str = ""
    finished: bool = False
    delivered: int = 0
    strangers: dict[str, int] = field(default_factory=dict)
    envelopes: int = 0
    connections: int = 0
    seconds: float = 0.0  # first connect -> the sink accepts the last expected recipient
    accept_seconds: float = 0.0  # first connect -> the last post's final reply
    recipients_per_s: float = 0.0
    posts_per_s: float = 0.0
    accepted_posts_per_s: float = 0.0
    cpu_s: float = 0.0  # all the system's processes, first connect -> quiet again
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    processes: int = 0
    idle_cores: float = 0.0  # the system's own CPU use while idle, before the run
    settle_s: float = 0.0
    bench_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    steal_s: float = 0.0
    rss_mb: float = 0.0  # sum of VmRSS over the processes after the run
    hwm_mb: float = 0.0  # sum of VmHWM over the processes
    calibration_ms: tuple[float, float] = (0.0, 0.0)
    setup_s: float = 0.0
    started: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def cpu_ms_per_recipient(self) -> float:
        return 1000 * self.cpu_s / max(1, self.delivered)

    @property
    def cpu_ms_per_post(self) -> float:
        return 1000 * self.cpu_s / max(1, self.posts)

    def figure(self) -> float:
        return {
            "A": self.recipients_per_s,
            "B": self.posts_per_s,
            "D": self.accepted_posts_per_s,
        }[self.shape]


async def measure(
    system: Mailman | Listfed,
    name: str,
    sizes: tuple[int, int, int],
    sink: Sink,
    timeout: float,
    quiet_wait: float,
) -> Run:
    members, posts, clients = sizes
    expected = members * posts
    r = Run(system.name, name, members, posts, clients, expected)
    r.intake = "LMTP" if system.lmtp else "SMTP"
    r.started = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    before = calibrate()
    t_setup = time.monotonic()
    try:
        await asyncio.to_thread(system.prepare, members)
        rng = random.Random(1000 + ord(name))  # the same posts for both systems
        messages = [make_message(i, rng) for i in range(posts)]
        await system.start()
        r.setup_s = time.monotonic() - t_setup
        await asyncio.sleep(1.0)
        await settle(system.pid, 60, 0.05)
        c0, w0 = sum(tree_cpu(system.pid).values()), time.monotonic()
        await asyncio.sleep(3.0)
        r.idle_cores = (sum(tree_cpu(system.pid).values()) - c0) / (time.monotonic() - w0)
        if quiet_wait > 0:
            waited = await wait_until_quiet(tree(system.pid), quiet_wait)
            if waited < 0:
                r.notes.append(f"the machine stayed busy for {quiet_wait:.0f} s; measured anyway")
            elif waited > 3:
                r.notes.append(f"waited {waited:.0f} s for other processes to go quiet")
        sink.reset(expected)
        ends: list[float] = []
        per_client = [messages[i::clients] for i in range(clients)]
        cpu0 = tree_cpu(system.pid)
        bench0, (sys0, steal0) = time.process_time(), system_busy()
        t0 = time.perf_counter()  # the first connect
        clients_done = asyncio.gather(
            *(inject(system.port, system.lmtp, m, ends) for m in per_client)
        )
        try:
            await asyncio.wait_for(clients_done, timeout)
        except TimeoutError:
            r.notes.append(f"the clients did not finish within {timeout:.0f} s")
        except (Refused, OSError) as exc:
            clients_done.cancel()
            r.notes.append(f"a client failed: {type(exc).__name__}: {exc}")
        if ends:
            r.accept_seconds = max(ends) - t0
            r.accepted_posts_per_s = len(ends) / r.accept_seconds
        if len(ends) < posts:
            r.notes.append(f"only {len(ends)} of {posts} posts accepted")
        left = max(1.0, timeout - (time.perf_counter() - t0))
        try:
            await asyncio.wait_for(sink.done.wait(), left)
            r.finished = len(ends) == posts
        except TimeoutError:
            r.notes.append(f"delivery not finished within {timeout:.0f} s")
        end = sink.last_rcpt if r.finished and sink.last_rcpt else time.perf_counter()
        r.seconds = end - t0
        r.bench_cpu_s = time.process_time() - bench0
        sys1, steal1 = system_busy()
        r.settle_s = await settle(system.pid, 120, r.idle_cores)
        cpu1 = tree_cpu(system.pid)
        await asyncio.sleep(1.0)  # anything doubled or late would show up here
        r.delivered = sink.recipients
        r.strangers = dict(sink.strangers)
        r.envelopes, r.connections = sink.envelopes, sink.connections
        r.recipients_per_s = min(r.delivered, expected) / r.seconds
        r.posts_per_s = (posts if r.finished else len(ends)) / r.seconds
        used: dict[str, float] = {}
        for pid, c in cpu1.items():
            key = proc_name(pid)
            used[key] = used.get(key, 0.0) + c - cpu0.get(pid, 0.0)
        r.cpu_by_process = dict(sorted(used.items(), key=lambda kv: -kv[1]))
        r.cpu_s = sum(used.values())
        r.processes = len(cpu1)
        # the window of the other processes' figure ends at the last recipient
        mine = sum(cpu1.values()) - sum(cpu0.values())  # slightly later: an upper bound
        r.other_cpu_s = max(0.0, (sys1 - sys0) - r.bench_cpu_s - mine)
        r.steal_s = steal1 - steal0
        pids = list(cpu1)
        r.rss_mb = sum(kb(p, "VmRSS") for p in pids) / 1024
        r.hwm_mb = sum(kb(p, "VmHWM") for p in pids) / 1024
        if r.delivered > expected:
            r.notes.append(f"{r.delivered - expected} recipients MORE than expected")
        if r.strangers:
            r.notes.append(f"recipients that are not members: {r.strangers}")
        r.notes += system.leftovers()
        if not r.finished:
            r.notes.append("log tail:\n" + system.tail())
    finally:
        note = await system.stop()
        if note:
            r.notes.append(note)
        r.calibration_ms = (before, calibrate())
    return r


# -- reporting ----------------------------------------------------------------------------


def print_run(r: Run) -> None:
    print(
        f"   {r.system} {r.shape} ({r.intake}): {r.delivered:,} of {r.expected:,} recipients "
        f"in {r.envelopes:,} transactions on {r.connections:,} connections; "
        f"{'finished' if r.finished else 'NOT FINISHED'}"
    )
    print(
        f"     time {r.seconds:.2f} s (accept {r.accept_seconds:.2f} s): "
        f"{r.recipients_per_s:,.0f} recipients/s, {r.posts_per_s:,.2f} posts/s end to end, "
        f"{r.accepted_posts_per_s:,.2f} posts/s accepted"
    )
    top = ", ".join(f"{k} {v:.2f}" for k, v in list(r.cpu_by_process.items())[:8] if v >= 0.01)
    print(
        f"     CPU {r.cpu_s:.2f} s in {r.processes} processes ({top}); "
        f"{r.cpu_ms_per_recipient:.3f} ms/recipient, {r.cpu_ms_per_post:.2f} ms/post; "
        f"idle before {1000 * r.idle_cores:.0f} ms/s; quiet {r.settle_s:.1f} s after"
    )
    print(
        f"     RSS {r.rss_mb:.0f} MB (sum; peaks {r.hwm_mb:.0f} MB); bench CPU "
        f"{r.bench_cpu_s:.2f} s; others {r.other_cpu_s:.2f} s "
        f"({100 * r.other_cpu_s / max(r.seconds, 1e-9):.0f}% of a core); "
        f"steal {r.steal_s:.2f} s; fixed loop {r.calibration_ms[0]:.0f} -> "
        f"{r.calibration_ms[1]:.0f} ms; setup {r.setup_s:.0f} s"
    )
    for note in r.notes:
        print(f"     note: {note}")


def median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=Run.figure)
    return ordered[len(ordered) // 2]


def table(pairs: list[tuple[Run, Run]]) -> str:
    out = [
        "| shape | figure | Mailman 3.3 | listfed | listfed / Mailman | ≥ 10× |",
        "|---|---|---:|---:|---:|---|",
    ]
    for m, lf in pairs:
        ratio = lf.figure() / m.figure() if m.figure() else float("nan")
        ok = "yes" if ratio >= 10 and m.finished and lf.finished else "no"
        unit = UNIT[m.shape]
        out.append(
            f"| {m.shape} {m.members:,} × {m.posts:,}, {m.clients} client(s) | {unit} "
            f"| {m.figure():,.1f} | {lf.figure():,.1f} | **{ratio:.1f}×** | {ok} |"
        )
        if m.shape == "A":
            rows = [("CPU ms per recipient", m.cpu_ms_per_recipient, lf.cpu_ms_per_recipient)]
        else:
            rows = [("CPU ms per post", m.cpu_ms_per_post, lf.cpu_ms_per_post)]
        rows.append(("CPU s, all processes", m.cpu_s, lf.cpu_s))
        for label, a, b in rows:
            less = a / b if b else float("nan")
            out.append(f"| | {label} | {a:,.3f} | {b:,.3f} | {less:.1f}× less | |")
        out.append(f"| | seconds end to end | {m.seconds:,.1f} | {lf.seconds:,.1f} | | |")
    return "\n".join(out)


# -- Mailman's venv -----------------------------------------------------------------------


def install(venv: Path) -> None:
    if REPO in venv.resolve().parents or venv.resolve() == REPO:
        raise SystemExit(f"{venv} is inside the repository: pick a folder outside it")
    print(f"installing {MAILMAN_REQ} into {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", MAILMAN_REQ],
        check=True,
        timeout=900,
    )


def versions(venv: Path) -> str:
    code = (
        "import importlib.metadata as m\n"
        "print(', '.join(f'{p} {m.version(p)}' for p in "
        "('mailman', 'sqlalchemy', 'aiosmtpd', 'falcon', 'lazr.config', 'gunicorn')))"
    )
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    return proc.stdout.strip() or proc.stderr.strip()[-300:]


# -- main ---------------------------------------------------------------------------------


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shape", default="A,B", help="shapes to run, comma-separated: A,B,D")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--repeat", type=int, default=1, metavar="N", help="runs per system")
    ap.add_argument(
        "--first",
        choices=["mailman", "listfed", "alternate"],
        default="alternate",
        help="which system runs first in each shape (alternate: Mailman first on odd "
        "runs of a shape, listfed on even ones, and shape by shape)",
    )
    ap.add_argument("--mailman-venv", type=Path, default=DEFAULT_VENV, metavar="PATH")
    ap.add_argument(
        "--install",
        action="store_true",
        help=f"make --mailman-venv and pip install '{MAILMAN_REQ}' into it first",
    )
    ap.add_argument(
        "--listfed-intake",
        choices=["lmtp", "smtp"],
        default="lmtp",
        help="listfed's listener (Mailman's is LMTP); default lmtp",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per run (default 900, 180 with --quick)",
    )
    ap.add_argument("--quiet-wait", type=float, default=60.0, metavar="S")
    ap.add_argument(
        "--processes",
        type=int,
        choices=[1, 2],
        default=1,
        help="listfed's [node] processes (2: its child's CPU counts as listfed's)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()
    shapes = [s.strip().upper() for s in args.shape.split(",") if s.strip()]
    if unknown := [s for s in shapes if s not in SHAPES]:
        ap.error(f"unknown shape(s) {unknown}: A, B, D")
    timeout = args.timeout or (180.0 if args.quick else 900.0)
    sizes = QUICK if args.quick else SHAPES
    if args.install:
        install(args.mailman_venv)
    if not (args.mailman_venv / "bin" / "mailman").exists():
        print(
            f"no Mailman in {args.mailman_venv}: run with --install, or\n"
            f"  python3 -m venv {args.mailman_venv} && "
            f"{args.mailman_venv}/bin/pip install '{MAILMAN_REQ}'",
            file=sys.stderr,
        )
        return 2

    began = dt.datetime.now(dt.UTC)
    info = machine()
    commit, dirty = git_commit(REPO / "listfed")
    info["git"] = commit + (" (with uncommitted changes)" if dirty else "")
    info["mailman"] = versions(args.mailman_venv) + f" in {args.mailman_venv}"
    info["intake"] = f"Mailman LMTP, listfed {args.listfed_intake.upper()}"
    print("GNU Mailman 3 and listfed side by side" + (" (--quick sizes)" if args.quick else ""))
    for k, v in info.items():
        print(f"  {k:11s} {v}")

    sink = Sink()
    await sink.start()
    runs: dict[tuple[str, str], list[Run]] = {}
    folders: list[Path] = []
    try:
        for i, name in enumerate(shapes):
            for rep in range(max(1, args.repeat)):
                order = ["mailman", "listfed"]
                if args.first == "listfed" or (args.first == "alternate" and (i + rep) % 2):
                    order.reverse()
                for which in order:
                    m, p, c = sizes[name]
                    print(
                        f"\n.. {name}: {TITLES[name]}, {m:,} members × {p:,} posts, {c} client(s)"
                        f" -- {which}" + (f" (run {rep + 1})" if args.repeat > 1 else ""),
                        flush=True,
                    )
                    work = Path(tempfile.mkdtemp(prefix=f"mmbench-{which}-{name}-"))
                    folders.append(work)
                    system: Mailman | Listfed
                    if which == "mailman":
                        system = Mailman(args.mailman_venv, work, sink.port)
                    else:
                        lmtp = args.listfed_intake == "lmtp"
                        system = Listfed(work, sink.port, lmtp, args.processes)
                    try:
                        r = await measure(system, name, sizes[name], sink, timeout, args.quiet_wait)
                    except Exception as exc:  # setup failed: say so, go on
                        r = Run(system.name, name, m, p, c, m * p)
                        r.notes.append(f"{type(exc).__name__}: {exc}")
                        with contextlib.suppress(Exception):
                            r.notes.append(await system.stop())
                    print_run(r)
                    runs.setdefault((name, system.name), []).append(r)
                    sys.stdout.flush()
    finally:
        await sink.stop()
        if args.keep:
            print("\nkept: " + " ".join(map(str, folders)))
        else:
            for f in folders:
                shutil.rmtree(f, ignore_errors=True)
    ended = dt.datetime.now(dt.UTC)

    pairs = [
        (median_run(runs[(s, "Mailman")]), median_run(runs[(s, "listfed")]))
        for s in shapes
        if runs.get((s, "Mailman")) and runs.get((s, "listfed"))
    ]
    print(
        f"\n{began:%Y-%m-%d %H:%M}–{ended:%H:%M} UTC, git {info['git']}"
        + (f", median of {args.repeat} runs each" if args.repeat > 1 else "")
    )
    print(table(pairs))
    if args.repeat > 1:
        for (s, system), rs in runs.items():
            figs = ", ".join(f"{x.figure():,.1f}" for x in sorted(rs, key=Run.figure))
            print(f"  {s} {system}: {figs} {UNIT[s]} (median kept)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "began": began.isoformat(),
                    "ended": ended.isoformat(),
                    "quick": args.quick,
                    "runs": [asdict(r) for rs in runs.values() for r in rs],
                    "ratios": {
                        m.shape: {
                            "figure": UNIT[m.shape],
                            "mailman": m.figure(),
                            "listfed": lf.figure(),
                            "ratio": lf.figure() / m.figure() if m.figure() else None,
                            "cpu_ms_per_unit": (
                                [m.cpu_ms_per_recipient, lf.cpu_ms_per_recipient]
                                if m.shape == "A"
                                else [m.cpu_ms_per_post, lf.cpu_ms_per_post]
                            ),
                        }
                        for m, lf in pairs
                    },
                },
                indent=2,
            )
        )
    every = [r for rs in runs.values() for r in rs]
    ok = all(r.finished and r.delivered == r.expected for r in every)
    return 0 if ok and len(pairs) == len(shapes) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
