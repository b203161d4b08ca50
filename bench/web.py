#!/usr/bin/env python3
"""The web face at a 100,000-message archive: pages/s and latency under 50 clients, what
that load does to SMTP intake, and the web process's CPU and memory.

    python bench/web.py --quick                          # 5,000 messages, a smoke run
    python bench/web.py --mbox /tmp/archive100k.mbox     # the full run (reuse or keep the mbox)
    python bench/web.py --mbox /tmp/archive100k.mbox --keep /tmp/webnode   # keep the node
    python bench/web.py --node /tmp/webnode              # measure a kept node again (no import)
    python bench/web.py --node /tmp/webnode --profile /tmp/prof   # + py-spy on a web child
    python bench/web.py --node /tmp/webnode --pages post --priority low   # [web] priority

A node like bench/archive.py's (`listfed init`, `lists create`, `listfed archive import`
of bench/mboxgen.py's mbox, plus 20 threads of 20 posts made the same way, since
mboxgen's threads seldom pass 10 posts), then `listfed serve` with SMTP and the web face
on free 127.0.0.1 ports. Load comes from a separate process of this script: a raw
HTTP/1.1 keep-alive client on 50 connections (asyncio streams, GET, headers,
Content-Length body), which measures its own CPU. Phases, one after the other:

1. SMTP accept latency without web load: one client posts N small posts to the list, one
   at a time; the time from the end of DATA (".") to the 250.
2. For each page (a post, a thread of ~20 posts, a search, the Atom feed): one client
   alone (the service time), then 50 clients back to back (closed loop: pages/s and
   latency under saturation); for the post page also 500 pages/s offered on 50
   connections, for the search 20/s (open loop: latency from each request's scheduled
   time).
3. SMTP again, under the 50-client post-page load; then without load again.
4. The web children's memory (`--workers`, 2 by default, summed over them): VmRSS and
   RssAnon, sampled during each phase, and VmHWM. Each
   request's connection maps the database anew (mmap), and VmRSS counts a file page once
   per mapping: RssAnon is the memory the process really holds. With --profile, py-spy on
   one web child during one more closed-loop phase of each page.

CPU per page is the web children's utime + stime (/proc/PID/stat) over the window / pages;
each phase also says how much CPU the load process, the daemon and every other process
on the machine used meanwhile. `--priority low` runs the web children ten steps nicer
than the daemon instead of on idle CPU time only (`[web] priority`), `--workers 1` as
one process, for comparison.

The load client shares this machine with what it measures; on a real node the readers
are elsewhere. So by default it runs on idle CPU time only, like the web children
(`--client-priority idle`): it shares the cores left by the daemon and the SMTP
client with them, fairly, instead of taking the CPU from the children whenever it has
a response to read (at 6,000 Atom pages/s it needs 0.7 of a core). `--client-priority
normal` measures as before, with the client ahead of the children.
Missed targets are reported, never an error: the exit status is 1 only when a step
failed. Only loopback is used; every phase and every subprocess is bounded.
"""

# The harness blocks its own loop only outside the measured windows (setup, py-spy):
# ruff: noqa: ASYNC109, ASYNC110, ASYNC220, ASYNC240

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import mboxgen
from archive import (
    LIST,
    QUERIES,
    StepFailed,
    check_queries,
    count_entries,
    listfed,
    make_mbox,
    median,
    percentile,
)
from fanout import (
    LISTFED,
    _cpu_or_zero,
    calibrate,
    free_port,
    git_commit,
    machine,
    profile_report,
    py_spy,
    status_kb,
    system_busy,
    wait_until_quiet,
)

HERE = Path(__file__).resolve().parent
SENDER = "ada.lovelace@example.org"
CONFIG = "webbench.toml"  # written into the node's folder on every run (fresh ports)
LONG_THREADS = 20  # threads of THREAD_SIZE posts added to the archive
THREAD_SIZE = 20
POST_SAMPLE = 1_000  # post pages, drawn from the archive
# Targets (the issue): pages/s and p95 ms under 50 concurrent clients, intake's ratio
POST_RATE = 500.0
SEARCH_RATE = 20.0  # searches/s offered: some 60 % of two cores at 30 CPU-ms a search
TARGET_P95_MS = {"post": 50.0, "thread": 80.0, "search": 100.0, "atom": 30.0}
SMTP_RATIO = 1.5
KINDS = ("post", "thread", "search", "atom")
TITLES = {
    "post": "a post's page /LIST/m/MSGID",
    "thread": f"a thread of ~{THREAD_SIZE} posts /LIST/t/MSGID",
    "search": f"a search /LIST/search?q=… ({len(QUERIES)} queries)",
    "atom": "the Atom feed /LIST/atom.xml",
}


# -- figures ----------------------------------------------------------------------------


@dataclass
class Phase:
    """One window of HTTP load, as the load process and /proc saw it."""

    kind: str
    mode: str  # "1 client", "50 clients", "500/s offered"
    seconds: float = 0.0  # the measured window (after the warm-up)
    pages: int = 0  # answered within the window
    pages_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    bytes_per_page: float = 0.0
    web_cpu_s: float = 0.0  # the web children, all threads
    web_cpu_ms_per_page: float = 0.0
    serve_cpu_s: float = 0.0  # the daemon's own process (SMTP, pipeline, supervisor)
    client_cpu_s: float = 0.0  # the load process
    other_cpu_s: float = 0.0  # everything else on the machine (this process included)
    steal_s: float = 0.0
    # the web children's VmRSS and RssAnon (summed), the largest of samples 0.1 s apart:
    # VmRSS counts a file page once per mapping, and each request's connection maps the
    # database anew
    web_rss_max_mb: float = 0.0
    web_anon_max_mb: float = 0.0


@dataclass
class Smtp:
    """Accept latency of one client posting small posts one at a time."""

    label: str
    posts: int = 0
    accepted: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    transaction_p50_ms: float = 0.0  # MAIL .. 250 after DATA
    seconds: float = 0.0
    serve_cpu_s: float = 0.0
    web_pages: int = 0  # served meanwhile
    refused: list[str] = field(default_factory=list)


@dataclass
class Figures:
    messages: int = 0  # in the archive when measured
    import_seconds: float = 0.0
    import_output: str = ""
    db_bytes: int = 0
    thread_posts: list[int] = field(default_factory=list)  # posts on each thread page used
    phases: list[Phase] = field(default_factory=list)
    smtp: list[Smtp] = field(default_factory=list)
    web_rss_idle_mb: float = 0.0
    web_rss_mb: float = 0.0
    web_anon_mb: float = 0.0
    web_hwm_mb: float = 0.0
    serve_rss_mb: float = 0.0
    serve_hwm_mb: float = 0.0
    quiet_wait_seconds: float = 0.0
    calibration_ms: tuple[float, float] = (0.0, 0.0)  # fixed loop before / after the load
    notes: list[str] = field(default_factory=list)


# -- the node ---------------------------------------------------------------------------


class _LongThreads(mboxgen.Generator):
    """mboxgen's messages, but every `size` of them make one thread, each reply with full
    References (so that no reply starts a thread of its own)."""

    def __init__(self, seed: int, count: int, list_address: str, size: int) -> None:
        super().__init__(seed, count, list_address)
        self.size = size

    def _thread(self) -> tuple[mboxgen.Thread, mboxgen.Post | None]:
        if (self.number - 1) % self.size == 0 or not self.active:
            self.active.clear()  # mboxgen starts a thread when none is active
            return super()._thread()
        thread = self.active[-1]  # a reply, as mboxgen picks its parent
        posts = thread.posts
        return thread, posts[-1] if self.rng.random() < 0.6 else self.rng.choice(posts)

    def _headers(
        self,
        author: mboxgen.Author,
        thread: mboxgen.Thread,
        parent: mboxgen.Post | None,
        kind: str,
        message_id: str | None,
        references: tuple[str, ...],
    ) -> str:
        kind = kind if parent is None else "full"
        return super()._headers(author, thread, parent, kind, message_id, references)


def make_long_threads(path: Path, seed: int) -> None:
    from listfed.archive.mbox import write_entry

    gen = _LongThreads(seed + 1000, LONG_THREADS * THREAD_SIZE, LIST, THREAD_SIZE)
    with path.open("wb") as out:
        for _ in range(LONG_THREADS * THREAD_SIZE):
            raw, sender, arrived = gen.message()
            write_entry(out, raw, sender, arrived)


def write_config(workdir: Path, workers: int, priority: str) -> tuple[Path, int, int]:
    """The node's config with fresh loopback ports: (path, SMTP port, web port). DNS goes
    to a closed loopback port: nothing here may ask the system resolver."""
    smtp, web, dns = free_port(), free_port(), free_port()
    config = workdir / CONFIG
    config.write_text(
        '[node]\nname = "bench.example"\ndomains = ["bench.example"]\ndata_dir = "var"\n'
        f'[smtp]\nlisten = "127.0.0.1:{smtp}"\n'
        f'[web]\nlisten = "127.0.0.1:{web}"\nworkers = {workers}\npriority = "{priority}"\n'
        '[delivery]\nsmarthost = "maildir:var/outbox"\n'
        f'[dns]\nnameservers = ["127.0.0.1:{dns}"]\ntimeout = "1s"\n'
    )
    return config, smtp, web


def build_node(workdir: Path, config: Path, mbox: Path, fig: Figures, timeout: float) -> None:
    listfed(config, "init")
    listfed(config, "lists", "create", LIST, "--policy", "open")
    print(f".. importing {mbox} into {LIST} in {workdir}", flush=True)
    started = time.perf_counter()
    proc = listfed(config, "archive", "import", LIST, str(mbox), timeout=timeout)
    fig.import_seconds = time.perf_counter() - started
    fig.import_output = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    print(f"   {fig.import_output} ({fig.import_seconds:.0f} s)", flush=True)


def prepare_node(config: Path, seed: int) -> None:
    """What every run needs, new node or kept: strangers may post (the SMTP client is not a
    member), no DMARC lookups, the long threads (import skips what is archived already)."""
    listfed(config, "lists", "set", LIST, "policy", "open")
    listfed(config, "lists", "set", LIST, "dmarc", "none")
    extra = config.parent / "long-threads.mbox"
    if not extra.exists():
        make_long_threads(extra, seed)
    listfed(config, "archive", "import", LIST, str(extra))


@dataclass
class Targets:
    posts: list[str]
    threads: list[str]
    searches: list[str]
    atom: list[str]
    thread_sizes: list[int]

    def of(self, kind: str) -> list[str]:
        return {
            "post": self.posts,
            "thread": self.threads,
            "search": self.searches,
            "atom": self.atom,
        }[kind]


def pick_targets(db: Path, seed: int) -> tuple[Targets, int]:
    """The paths to ask for, from the database read-only; and the archive's size."""
    from listfed.archive import browse, opendb

    conn = opendb.connect(db, 5.0, readonly=True)
    try:
        lst = browse.find_list(conn, LIST)
        if lst is None:
            raise StepFailed(f"no list {LIST} in {db}")
        ids = [str(r[0]) for r in conn.execute(
            "SELECT message_id FROM archive WHERE list_id = ? ORDER BY id", (lst.id,)
        )]  # fmt: skip
        threads = conn.execute(
            "SELECT thread_id, COUNT(*) AS n FROM archive WHERE list_id = ? GROUP BY thread_id "
            "HAVING n BETWEEN ? AND ? ORDER BY abs(n - ?), thread_id LIMIT ?",
            (lst.id, THREAD_SIZE - 5, THREAD_SIZE + 5, THREAD_SIZE, LONG_THREADS),
        ).fetchall()
        roots = []
        for tid, _n in threads:
            first = conn.execute(
                "SELECT message_id FROM archive WHERE list_id = ? AND thread_id = ? "
                "ORDER BY message_id = ? DESC, date LIMIT 1",
                (lst.id, tid, tid),
            ).fetchone()
            roots.append(str(first[0]))
    finally:
        conn.close()
    if not ids or not roots:
        raise StepFailed(f"the archive has {len(ids)} posts and {len(roots)} threads of ~20")
    base = f"/{LIST}"
    sample = random.Random(seed).sample(ids, min(POST_SAMPLE, len(ids)))
    return (
        Targets(
            posts=[f"{base}/m/{_segment(m)}" for m in sample],
            threads=[f"{base}/t/{_segment(m)}" for m in roots],
            searches=[f"{base}/search?q={quote_plus(q)}" for _, q in QUERIES],
            atom=[f"{base}/atom.xml"],
            thread_sizes=[int(n) for _, n in threads],
        ),
        len(ids),
    )


def _segment(message_id: str) -> str:
    return quote(message_id.strip().strip("<>"), safe="")


class Daemon:
    """`listfed serve` and its web children."""

    def __init__(self, config: Path, smtp_port: int, web_port: int, workers: int) -> None:
        self.config, self.smtp_port, self.web_port = config, smtp_port, web_port
        self.workers = workers
        self.log = config.parent / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.web_pids: list[int] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as logf:
            self.proc = subprocess.Popen(
                [*LISTFED, "--config", str(self.config), "serve"],
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StepFailed(f"listfed serve exited with {self.proc.returncode}: {self.tail()}")
            self.web_pids = web_children(self.pid)
            if (
                len(self.web_pids) == self.workers
                and await _answers(self.smtp_port)
                and await _http_ok(self.web_port)
            ):
                return
            await asyncio.sleep(0.1)
        raise StepFailed("listfed serve did not answer on both ports in time: " + self.tail())

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    async def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        for pid in self.web_pids:
            if Path(f"/proc/{pid}").exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # our own grandchild, by its pid
        return self.proc.returncode


def web_children(parent: int) -> list[int]:
    """The pids of every `python -m listfed.web` under `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent and b"listfed.web" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found)


async def _answers(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def _http_ok(port: int) -> bool:
    try:
        async with asyncio.timeout(10):
            conn = await Http.open(port)
            status, _ = await conn.get("/")
            conn.close()
            return status == 200
    except _BROKEN:
        return False


# -- HTTP: the load client --------------------------------------------------------------


_BROKEN = (
    OSError,
    TimeoutError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    ValueError,
)


class Http:
    """One HTTP/1.1 keep-alive connection: GET, read the headers, read the body."""

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.port, self.reader, self.writer = port, reader, writer
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(port, reader, writer)

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "User-Agent: listfed-bench\r\nAccept: */*\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            body = await self.reader.readexactly(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body, self.closed = await self.reader.read(), True
        if b"\r\nconnection: close" in lower:
            self.closed = True
        return status, body

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers from uvicorn
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size + 2))
            parts[-1] = parts[-1][:-2]

    def close(self) -> None:
        self.writer.close()


@dataclass
class LoadSpec:
    port: int
    paths: list[str]
    connections: int
    warmup: float
    duration: float  # the measured window; the load process may be told to stop earlier
    rate: float  # pages/s offered on all connections together; 0: back to back
    pids: dict[str, list[int]]  # name -> pids whose CPU, summed, is read at the window's edges
    idle: bool = False  # the load process on idle CPU time only (--client-priority)


async def load(spec: LoadSpec) -> dict[str, Any]:
    """Drive the load; the figures of the measured window (see Phase)."""
    if spec.idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stdin_watch() -> None:  # a line (or EOF) from the benchmark ends the window early
        sys.stdin.readline()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=stdin_watch, daemon=True).start()
    conns = [await Http.open(spec.port) for _ in range(spec.connections)]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    done = [0, 0]  # pages answered within the window, their bytes
    start = time.perf_counter()
    window = start + spec.warmup
    end = window + spec.duration
    n = len(spec.paths)

    async def client(c: int) -> None:
        conn = conns[c]
        j = 0
        while not stop.is_set():
            now = time.perf_counter()
            if now >= end:
                return
            path = spec.paths[(c * max(1, n // spec.connections) + j) % n]
            sent = now
            if spec.rate:  # open loop: request c + j*connections is due at its time
                sent = start + (c + j * spec.connections) / spec.rate
                if sent >= end:
                    return
                if sent > now:  # else it is late: it goes at once, its wait counted
                    await asyncio.sleep(sent - now)
                    if stop.is_set():
                        return
            j += 1
            try:
                if conn.closed:
                    conn = conns[c] = await Http.open(spec.port)
                async with asyncio.timeout(30):
                    status, body = await conn.get(path)
            except _BROKEN as exc:
                errors[type(exc).__name__] += 1
                conn.close()
                conn.closed = True
                await asyncio.sleep(0.05)
                continue
            finished = time.perf_counter()
            if status != 200:
                errors[f"HTTP {status}"] += 1
            if sent >= window and finished <= end and not stop.is_set():
                latencies.append(finished - sent)
                done[0] += 1
                done[1] += len(body)

    rss = [0, 0]

    async def edges() -> tuple[dict[str, float], dict[str, float]]:
        await asyncio.sleep(max(0.0, window - time.perf_counter()))
        first = _marks(spec.pids)
        print("window", flush=True)  # the benchmark may start its SMTP client now
        while not stop.is_set() and time.perf_counter() < end:
            with contextlib.suppress(OSError, ValueError):
                now = memory_kb(*spec.pids["web"])
                rss[:] = max(rss[0], now["VmRSS"]), max(rss[1], now["RssAnon"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(0.1, max(0.0, end - time.perf_counter())))
        return first, _marks(spec.pids)

    clients = [asyncio.ensure_future(client(c)) for c in range(spec.connections)]
    first, last = await edges()
    stop.set()
    await asyncio.gather(*clients)
    for conn in conns:
        conn.close()
    seconds = last["wall"] - first["wall"]
    return {
        "seconds": seconds,
        "pages": done[0],
        "bytes": done[1],
        "latencies_ms": [round(1000 * x, 3) for x in latencies],
        "errors": dict(errors),
        "cpu": {k: last[k] - first[k] for k in first},
        "web_rss_max_kb": rss[0],
        "web_anon_max_kb": rss[1],
    }


def memory_kb(*pids: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile of processes, kB, summed over them."""
    out = dict.fromkeys(("VmRSS", "VmHWM", "RssAnon", "RssFile"), 0)
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in out:
                out[key] += int(value.split()[0])
    return out


def _marks(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far: each group of `pids`, this process, the machine (busy, steal)."""
    busy, steal = system_busy()
    marks = {name: sum(_cpu_or_zero(pid) for pid in group) for name, group in pids.items()}
    marks.update(client=time.process_time(), busy=busy, steal=steal, wall=time.perf_counter())
    return marks


class LoadProcess:
    """This script as `--load-worker`: the load runs in a process of its own, so the SMTP
    client's loop (here) and the load's loop do not slow each other."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--load-worker",
            json.dumps(asdict(self.spec)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    async def window(self, timeout: float = 60.0) -> None:
        """Wait for the measured window to begin."""
        assert self.proc is not None
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if line.strip() != b"window":
            raise StepFailed(f"the load process said {line!r} instead of starting")

    async def finish(self, early: bool = False) -> dict[str, Any]:
        """Its figures; with `early`, end the window now."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        if early:
            self.proc.stdin.write(b"stop\n")
            await self.proc.stdin.drain()
        limit = self.spec.warmup + self.spec.duration + 60
        try:
            out = await asyncio.wait_for(self.proc.stdout.read(), limit)
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise StepFailed("the load process did not finish in time") from None
        if self.proc.returncode != 0 or not out.strip():
            raise StepFailed(f"the load process exited {self.proc.returncode}")
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


def phase_of(kind: str, mode: str, result: dict[str, Any]) -> Phase:
    lat = result["latencies_ms"]
    cpu = result["cpu"]
    ph = Phase(kind, mode, seconds=result["seconds"], pages=result["pages"])
    ph.errors = result["errors"]
    if lat:
        ph.p50_ms, ph.p95_ms = median(lat), percentile(lat, 95)
        ph.p99_ms, ph.max_ms = percentile(lat, 99), max(lat)
    if ph.pages and ph.seconds > 0:
        ph.pages_per_s = ph.pages / ph.seconds
        ph.bytes_per_page = result["bytes"] / ph.pages
        ph.web_cpu_ms_per_page = 1000 * cpu["web"] / ph.pages
    ph.web_cpu_s, ph.serve_cpu_s, ph.client_cpu_s = cpu["web"], cpu["serve"], cpu["client"]
    ph.other_cpu_s = max(0.0, cpu["busy"] - cpu["web"] - cpu["serve"] - cpu["client"])
    ph.steal_s = cpu["steal"]
    ph.web_rss_max_mb = result["web_rss_max_kb"] / 1024
    ph.web_anon_max_mb = result["web_anon_max_kb"] / 1024
    return ph


async def http_phase(
    daemon: Daemon, kind: str, paths: list[str], connections: int, seconds: float, rate: float,
    warmup: float, idle: bool,
) -> Phase:  # fmt: skip
    mode = (
        f"{rate:,.0f}/s offered"
        if rate
        else ("1 client" if connections == 1 else f"{connections} clients")
    )
    print(f".. {kind}: {mode}, {seconds:.0f} s", flush=True)
    spec = LoadSpec(
        daemon.web_port, paths, connections, warmup, seconds, rate,
        {"web": daemon.web_pids, "serve": [daemon.pid]}, idle,
    )  # fmt: skip
    worker = LoadProcess(spec)
    await worker.start()
    try:
        await worker.window()
        ph = phase_of(kind, mode, await worker.finish())
    finally:
        worker.kill()
    print(
        f"   {ph.pages_per_s:,.0f} pages/s, p50 {ph.p50_ms:.1f} ms, p95 {ph.p95_ms:.1f} ms; "
        f"web CPU {ph.web_cpu_ms_per_page:.2f} ms/page ({ph.web_cpu_s / ph.seconds:.2f} cores), "
        f"load client {ph.client_cpu_s / ph.seconds:.2f} cores"
        + (f"; errors {ph.errors}" if ph.errors else ""),
        flush=True,
    )
    return ph


# -- SMTP: accept latency ---------------------------------------------------------------


def small_post(tag: str, n: int, rng: random.Random) -> bytes:
    """A ~1 KB plain-text post to the list, with a Message-ID of its own."""
    words = [rng.choice(mboxgen.VOCABULARY) for _ in range(6)]
    lines = [
        " ".join(rng.choice(mboxgen.VOCABULARY) for _ in range(10)).capitalize() + "."
        for _ in range(10)
    ]
    return (
        f"From: Ada Lovelace <{SENDER}>\r\nTo: {LIST}\r\n"
        f"Subject: {' '.join(words).capitalize()}\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
        f"Message-ID: <webbench.{tag}.{n}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nHi all,\r\n\r\n"
        + "\r\n".join(lines)
        + "\r\n\r\nAda\r\n"
    ).encode()


async def _reply(reader: asyncio.StreamReader) -> str:
    lines = []
    while True:
        line = (await reader.readuntil(b"\r\n")).decode(errors="replace").rstrip()
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "\n".join(lines)


async def smtp_phase(daemon: Daemon, label: str, posts: int, gap: float, tag: str) -> Smtp:
    """One client posts `posts` messages, one at a time, `gap` s apart."""
    res = Smtp(label, posts)
    rng = random.Random(tag)
    messages = [small_post(tag, i, rng) for i in range(posts)]
    accept: list[float] = []
    whole: list[float] = []
    cpu0, t0 = _cpu_or_zero(daemon.pid), time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.smtp_port)
    try:
        async with asyncio.timeout(30):
            await _reply(reader)
            writer.write(b"EHLO bench.client\r\n")
            await _reply(reader)
        for raw in messages:
            async with asyncio.timeout(60):
                began = time.perf_counter()
                for command, want in (
                    (f"MAIL FROM:<{SENDER}>", "250"),
                    (f"RCPT TO:<{LIST}>", "250"),
                    ("DATA", "354"),
                ):
                    writer.write(command.encode() + b"\r\n")
                    answer = await _reply(reader)
                    if not answer.startswith(want):
                        raise StepFailed(f"SMTP {command}: {answer}")
                stuffed = re.sub(rb"(?m)^\.", b"..", raw)
                writer.write(stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n")
                await writer.drain()
                ended = time.perf_counter()  # the end of DATA: "." goes now
                writer.write(b".\r\n")
                answer = await _reply(reader)
                got = time.perf_counter()
            if answer.startswith("250"):
                accept.append(got - ended)
                whole.append(got - began)
            else:
                res.refused.append(answer)
            await asyncio.sleep(gap)
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError):
            async with asyncio.timeout(10):
                await _reply(reader)
    finally:
        writer.close()
    res.seconds = time.perf_counter() - t0
    res.serve_cpu_s = _cpu_or_zero(daemon.pid) - cpu0
    res.accepted = len(accept)
    if accept:
        ms = [1000 * x for x in accept]
        res.p50_ms, res.p95_ms, res.max_ms = median(ms), percentile(ms, 95), max(ms)
        res.transaction_p50_ms = 1000 * median(whole)
    print(
        f"   SMTP {label}: {res.accepted}/{posts} accepted, accept p50 {res.p50_ms:.2f} ms, "
        f"p95 {res.p95_ms:.2f} ms, max {res.max_ms:.1f} ms",
        flush=True,
    )
    return res


async def smtp_under_load(
    daemon: Daemon, paths: list[str], connections: int, posts: int, gap: float, tag: str,
    warmup: float, idle: bool,
) -> tuple[Smtp, Phase]:  # fmt: skip
    """The SMTP client while `connections` clients ask for post pages back to back."""
    print(f".. SMTP under the {connections}-client post-page load", flush=True)
    spec = LoadSpec(
        daemon.web_port, paths, connections, warmup, 30.0 + posts * (gap + 2.0), 0.0,
        {"web": daemon.web_pids, "serve": [daemon.pid]}, idle,
    )  # fmt: skip
    worker = LoadProcess(spec)
    await worker.start()
    try:
        await worker.window()
        smtp = await smtp_phase(daemon, "under web load", posts, gap, tag)
        ph = phase_of("post", f"{connections} clients + SMTP", await worker.finish(early=True))
    finally:
        worker.kill()
    smtp.web_pages = ph.pages
    print(f"   web meanwhile: {ph.pages_per_s:,.0f} pages/s, p95 {ph.p95_ms:.1f} ms", flush=True)
    return smtp, ph


# -- the run ----------------------------------------------------------------------------


async def ranked_index_ready(db: Path, timeout: float = 600.0) -> str:
    """Wait until the daemon's ranked search index holds every post (archive/topk: on a
    node upgraded to schema v15, or without the index folder, it is made at start and
    searches go to FTS5 meanwhile); what it took, for the notes."""
    start = time.monotonic()
    waiting = -1
    while time.monotonic() - start < timeout:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            waiting = int(conn.execute("SELECT count(*) FROM search_pending").fetchone()[0])
        except sqlite3.OperationalError:  # not upgraded yet
            waiting = -1
        finally:
            conn.close()
        if waiting == 0:
            took = time.monotonic() - start
            print(f"   ranked search index ready after {took:.1f} s", flush=True)
            return f"ranked search index ready {took:.1f} s after the daemon answered"
        await asyncio.sleep(0.5)
    raise StepFailed(f"the ranked search index still had {waiting} posts to take after {timeout} s")


async def measure(args: argparse.Namespace, daemon: Daemon, targets: Targets, fig: Figures) -> None:
    q = args.quick
    seconds = args.duration or (8.0 if q else 20.0)
    single = args.single or (3.0 if q else 5.0)
    posts = args.smtp_posts or (40 if q else 200)
    tag = f"{int(time.time())}-{os.getpid()}"
    await daemon.start()
    print(f"   serve pid {daemon.pid}, web children {daemon.web_pids}", flush=True)
    fig.notes.append(await ranked_index_ready(daemon.config.parent / "var" / "listfed.db"))
    # every page once: each answers 200, the pages and the index come into memory
    for kind in KINDS:
        bad = await _check(daemon.web_port, targets.of(kind), kind, fig)
        if bad:
            raise StepFailed(f"{kind}: {bad}")
    fig.web_rss_idle_mb = memory_kb(*daemon.web_pids)["VmRSS"] / 1024
    fig.notes.append(f'[web] priority = "{args.priority}"')
    idle = args.client_priority == "idle"
    fig.notes.append(f"the load client's priority: {args.client_priority}")
    if args.quiet_wait > 0:
        print(f".. waiting up to {args.quiet_wait:.0f} s for other processes to go quiet")
        pids = [daemon.pid, *daemon.web_pids]
        fig.quiet_wait_seconds = await wait_until_quiet(pids, args.quiet_wait)
        if fig.quiet_wait_seconds < 0:
            fig.notes.append("other processes kept the CPU busy: figures are pessimistic")
    fig.calibration_ms = (calibrate(), 0.0)
    fig.smtp.append(await smtp_phase(daemon, "without web load", posts, args.smtp_gap, tag + "a"))
    for kind in args.pages:
        paths = targets.of(kind)
        fig.phases.append(await http_phase(daemon, kind, paths, 1, single, 0.0, 1.0, idle))
        fig.phases.append(
            await http_phase(daemon, kind, paths, args.clients, seconds, 0.0, args.warmup, idle)
        )
        rate = offered(args).get(kind, 0.0)
        if rate:
            fig.phases.append(
                await http_phase(
                    daemon, kind, paths, args.clients, seconds, rate, args.warmup, idle
                )
            )
    smtp, ph = await smtp_under_load(
        daemon, targets.posts, args.clients, posts, args.smtp_gap, tag + "b", args.warmup, idle
    )
    fig.smtp.append(smtp)
    fig.phases.append(ph)
    fig.smtp.append(
        await smtp_phase(daemon, "without web load, again", posts, args.smtp_gap, tag + "c")
    )
    fig.calibration_ms = (fig.calibration_ms[0], calibrate())
    web = memory_kb(*daemon.web_pids)
    fig.web_rss_mb, fig.web_anon_mb = web["VmRSS"] / 1024, web["RssAnon"] / 1024
    fig.web_hwm_mb = web["VmHWM"] / 1024
    fig.serve_rss_mb = status_kb(daemon.pid, "VmRSS") / 1024
    fig.serve_hwm_mb = status_kb(daemon.pid, "VmHWM") / 1024
    if args.profile:
        await profile(args, daemon, targets)


async def _check(port: int, paths: list[str], kind: str, fig: Figures) -> str:
    """Ask for each path once; "" if all answered 200, else what went wrong."""
    conn = await Http.open(port)
    try:
        for path in paths:
            async with asyncio.timeout(60):
                status, body = await conn.get(path)
            if status != 200:
                return f"{path} answered {status}"
            if kind == "thread":
                fig.thread_posts.append(body.count(b'<article class="post"'))
            if conn.closed:
                conn = await Http.open(port)
    finally:
        conn.close()
    return ""


async def profile(args: argparse.Namespace, daemon: Daemon, targets: Targets) -> None:
    """py-spy on one web child during one more closed-loop phase of each page."""
    args.profile.mkdir(parents=True, exist_ok=True)
    for kind in args.pages:
        out = args.profile / f"web-{kind}.txt"
        spy = await py_spy(daemon.web_pids[0], out, args.spy_rate)  # one child: they are alike
        if spy is None:
            return
        try:
            await http_phase(
                daemon,
                kind,
                targets.of(kind),
                args.clients,
                args.profile_seconds,
                0.0,
                1.0,
                args.client_priority == "idle",
            )
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(5)
        profile_report(out)


# -- reporting --------------------------------------------------------------------------


def _find(fig: Figures, kind: str, mode: str) -> Phase | None:
    return next((p for p in fig.phases if p.kind == kind and p.mode == mode), None)


def offered(args: argparse.Namespace) -> dict[str, float]:
    """The pages measured in an open loop too, and the rate offered for each."""
    return {"post": args.rate, "search": args.search_rate}


def summary_rows(
    fig: Figures, clients: int, rates: dict[str, float]
) -> list[tuple[str, str, str, str]]:
    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    out = []
    closed = f"{clients} clients"
    for kind in KINDS:
        ph = _find(fig, kind, closed)
        if ph is None:
            continue
        target = TARGET_P95_MS[kind]
        ok = ph.p95_ms <= target and not ph.errors
        want = f"p95 ≤ {target:.0f} ms"
        rate = rates.get(kind, 0.0)
        if kind == "post":
            ok = ok and ph.pages_per_s >= rate
            want = f"≥ {rate:,.0f} pages/s, {want}"
        out.append(
            (
                f"{kind}, {closed}",
                f"{ph.pages_per_s:,.0f} pages/s, p50 {ph.p50_ms:.1f} ms, p95 {ph.p95_ms:.1f} ms",
                want,
                yes(ok),
            )
        )
        opened = _find(fig, kind, f"{rate:,.0f}/s offered") if rate else None
        if opened is not None:
            out.append(
                (
                    f"{kind}, {rate:,.0f}/s offered on {clients} connections",
                    f"{opened.pages_per_s:,.0f} pages/s, p50 {opened.p50_ms:.1f} ms, "
                    f"p95 {opened.p95_ms:.1f} ms",
                    want,
                    yes(
                        opened.p95_ms <= target
                        and opened.pages_per_s >= 0.98 * rate
                        and not opened.errors
                    ),
                )
            )
    calm = [s for s in fig.smtp if "without" in s.label and s.accepted]
    busy = next((s for s in fig.smtp if s.label == "under web load"), None)
    if calm and busy and busy.accepted:
        base = max(s.p95_ms for s in calm)
        ratio = busy.p95_ms / base if base else float("inf")
        out.append(
            (
                "SMTP accept p95, under web load / without",
                f"{busy.p95_ms:.2f} / {base:.2f} ms = {ratio:.2f}× "
                f"(without: {', '.join(f'{s.p95_ms:.2f}' for s in calm)} ms)",
                f"≤ {SMTP_RATIO}×",
                yes(ratio <= SMTP_RATIO),
            )
        )
    if fig.web_hwm_mb:
        out.append(
            (
                "web children's memory after the load (summed)",
                f"VmRSS {fig.web_rss_mb:.0f} MB (RssAnon {fig.web_anon_mb:.0f}), VmHWM "
                f"{fig.web_hwm_mb:.0f} MB; RssAnon at most "
                f"{max((p.web_anon_max_mb for p in fig.phases), default=0):.0f} MB under load "
                f"(idle VmRSS {fig.web_rss_idle_mb:.0f} MB)",
                "–",
                "–",
            )
        )
    return out


def report(fig: Figures, clients: int, rates: dict[str, float]) -> None:
    print(f"\n== archive: {fig.messages:,} posts; database {fig.db_bytes / 1e6:,.0f} MB")
    if fig.thread_posts:
        sizes = sorted(fig.thread_posts)
        print(
            f"   thread pages: {len(sizes)} threads of {sizes[0]}–{sizes[-1]} posts "
            f"(median {median(sizes):.0f}) on the page"
        )
    print(
        "\n| page | load | pages/s | p50 ms | p95 ms | p99 ms | max ms | KB/page "
        "| web CPU ms/page | web cores | load client cores | daemon cores | other cores "
        "| web VmRSS / RssAnon max MB | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for p in fig.phases:
        s = max(p.seconds, 1e-9)
        errors = ", ".join(f"{k} {v}" for k, v in p.errors.items()) or "0"
        print(
            f"| {p.kind} | {p.mode} | {p.pages_per_s:,.0f} | {p.p50_ms:.1f} | {p.p95_ms:.1f} "
            f"| {p.p99_ms:.1f} | {p.max_ms:.1f} | {p.bytes_per_page / 1024:.1f} "
            f"| {p.web_cpu_ms_per_page:.2f} | {p.web_cpu_s / s:.2f} | {p.client_cpu_s / s:.2f} "
            f"| {p.serve_cpu_s / s:.2f} | {p.other_cpu_s / s:.2f} "
            f"| {p.web_rss_max_mb:.0f} / {p.web_anon_max_mb:.0f} | {errors} |"
        )
    print(
        "\n| SMTP client, one at a time | posts | accept p50 ms | p95 ms | max ms "
        "| transaction p50 ms | daemon CPU ms/post | web pages meanwhile |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in fig.smtp:
        print(
            f"| {m.label} | {m.accepted}/{m.posts} | {m.p50_ms:.2f} | {m.p95_ms:.2f} "
            f"| {m.max_ms:.1f} | {m.transaction_p50_ms:.2f} "
            f"| {1000 * m.serve_cpu_s / max(1, m.accepted):.2f} | {m.web_pages:,} |"
        )
        for r in m.refused[:3]:
            print(f"   refused: {r}")
    print(
        f"\n   web children: VmRSS {fig.web_rss_idle_mb:.0f} MB idle, "
        f"{fig.web_rss_mb:.0f} MB after the load (RssAnon {fig.web_anon_mb:.0f} MB), "
        f"VmHWM {fig.web_hwm_mb:.0f} MB; "
        f"daemon: VmRSS {fig.serve_rss_mb:.0f} MB, VmHWM {fig.serve_hwm_mb:.0f} MB"
    )
    print(
        f"   machine speed: fixed loop {fig.calibration_ms[0]:.0f} ms before the load, "
        f"{fig.calibration_ms[1]:.0f} ms after (lower is faster)"
    )
    print("\n| figure | result | target | met |\n|---|---|---|---|")
    for row in summary_rows(fig, clients, rates):
        print("| " + " | ".join(row) + " |")
    for note in fig.notes:
        print(f"note: {note}")


# -- main -------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=100_000, metavar="N", help="a new mbox's size")
    ap.add_argument("--quick", action="store_true", help="5,000 messages, short phases")
    ap.add_argument(
        "--mbox", type=Path, help="use this mbox if it exists, else write it there and keep it"
    )
    ap.add_argument("--seed", type=int, default=1, help="mboxgen's seed and the post sample's")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, metavar="DIR", help="build the node in DIR, keep it")
    where.add_argument(
        "--node", type=Path, metavar="DIR", help="use a node kept before (--keep): no import"
    )
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--clients", type=int, default=50, help="concurrent HTTP connections")
    ap.add_argument(
        "--workers", type=int, default=2, help="[web] workers: the web face's processes (2)"
    )
    ap.add_argument("--duration", type=float, default=0.0, help="s per phase (20; --quick 8)")
    ap.add_argument("--single", type=float, default=0.0, help="s of the 1-client phases (5; 3)")
    ap.add_argument("--warmup", type=float, default=2.0, help="s before each window")
    ap.add_argument("--rate", type=float, default=POST_RATE, help="post pages/s offered")
    ap.add_argument(
        "--search-rate", type=float, default=SEARCH_RATE, help="searches/s offered (0: none)"
    )
    ap.add_argument(
        "--pages",
        type=lambda v: [k for k in v.split(",") if k],
        default=list(KINDS),
        help=f"which pages to measure, of {','.join(KINDS)} (all); SMTP phases always run",
    )
    ap.add_argument("--smtp-posts", type=int, default=0, help="posts per SMTP phase (200; 40)")
    ap.add_argument("--smtp-gap", type=float, default=0.05, help="s between two posts")
    ap.add_argument("--timeout", type=float, default=3600.0, help="s for the import")
    ap.add_argument(
        "--priority",
        choices=("idle", "low"),
        default="idle",
        help="[web] priority: the children on idle CPU time only, or ten steps nicer (idle)",
    )
    ap.add_argument(
        "--client-priority",
        choices=("idle", "normal"),
        default="idle",
        help="the load client on idle CPU time only, as the web children (idle), or at the "
        "daemon's priority, ahead of them (normal: the figures before 2026-12-07 05:00 UTC)",
    )
    ap.add_argument("--quiet-wait", type=float, default=60.0, metavar="S", help="0: don't wait")
    ap.add_argument(
        "--profile", type=Path, metavar="DIR", help="after measuring: py-spy on a web child"
    )
    ap.add_argument("--profile-seconds", type=float, default=10.0)
    ap.add_argument("--spy-rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--load-worker", metavar="SPEC", help=argparse.SUPPRESS)
    return ap.parse_args()


async def run(args: argparse.Namespace, fig: Figures, info: dict[str, str]) -> bool:
    count = 5_000 if args.quick else args.messages
    if args.node:
        workdir = args.node
        if not (workdir / "var" / "listfed.db").exists():
            raise StepFailed(f"--node {workdir}: no var/listfed.db there")
    elif args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            raise StepFailed(f"--keep {args.keep}: not empty (use --node to reuse it)")
        args.keep.mkdir(parents=True, exist_ok=True)
        workdir = args.keep
    else:
        workdir = Path(tempfile.mkdtemp(prefix="listfed-bench-web-"))
    daemon: Daemon | None = None
    try:
        config, smtp_port, web_port = write_config(workdir, args.workers, args.priority)
        if not args.node:
            mbox = args.mbox or workdir / "archive.mbox"
            if mbox.exists():
                print(f".. using {mbox}: {count_entries(mbox):,} messages", flush=True)
            else:
                make_mbox(mbox, count, args.seed)
            build_node(workdir, config, mbox, fig, args.timeout)
        prepare_node(config, args.seed)
        db = workdir / "var" / "listfed.db"
        targets, fig.messages = pick_targets(db, args.seed)
        fig.db_bytes = sum(p.stat().st_size for p in db.parent.glob("listfed.db*"))
        for part in db.parent.glob("listfed.db*"):  # from the page cache, as on a warm server
            with part.open("rb") as f:
                while f.read(1 << 24):
                    pass
        print(
            f".. {fig.messages:,} posts; {len(targets.posts):,} post pages, "
            f"{len(targets.threads)} threads of {min(targets.thread_sizes)}–"
            f"{max(targets.thread_sizes)} posts, {len(targets.searches)} searches",
            flush=True,
        )
        daemon = Daemon(config, smtp_port, web_port, args.workers)
        await measure(args, daemon, targets, fig)
        return True
    finally:
        if daemon is not None:
            code = await daemon.stop()
            if code not in (0, None):
                fig.notes.append(f"listfed serve exited with {code}: {daemon.tail(5)}")
        if args.keep or args.node:
            fig.notes.append(f"node kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        info["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def main() -> int:
    args = arguments()
    if args.load_worker:
        spec = LoadSpec(**json.loads(args.load_worker))
        print(json.dumps(asyncio.run(load(spec))), flush=True)
        return 0
    check_queries()
    if set(args.pages) - set(KINDS):
        print(f"--pages: one or more of {','.join(KINDS)}", file=sys.stderr)
        return 2
    info = machine()
    rev, dirty = git_commit(HERE.parent / "listfed")
    info["git"] = (rev or "?") + (" + uncommitted changes in listfed/" if dirty else "")
    info["listfed"] = " ".join(LISTFED)
    import uvicorn

    info["uvicorn"] = f"{uvicorn.__version__} ({_http_impl()})"
    print("listfed web benchmark" + (" (--quick)" if args.quick else ""))
    for k, v in info.items():
        print(f"  {k:11s} {v}")
    fig = Figures()
    ok = False
    try:
        ok = asyncio.run(run(args, fig, info))
    except (StepFailed, OSError, subprocess.TimeoutExpired, TimeoutError) as exc:
        fig.notes.append(f"STOPPED: {type(exc).__name__}: {exc}")
    report(fig, args.clients, offered(args))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "completed": ok, "figures": asdict(fig)},
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0 if ok else 1


def _http_impl() -> str:
    """Which HTTP/1.1 parser uvicorn picks ("auto": httptools when installed, else h11)."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11, pure Python: httptools is not installed"
    return "httptools"


if __name__ == "__main__":
    sys.exit(main())
