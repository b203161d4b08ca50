#!/usr/bin/env python3
"""Relay latency and throughput between two real `listfed serve` nodes on loopback.

Node A (a.example, lists.a.example) and node B (b.example, lists.b.example) run as
subprocesses, each in its own temporary folder with its own data dir and database, peers
of each other with one shared secret; A sends relays straight to B's SMTP listener. A's
list coc@lists.a.example has a route (match any = true) to B's list coc@lists.b.example.
Each list has one member; both nodes deliver to one recording smarthost (aiosmtpd, in
this process, 127.0.0.1 port 0) that notes when each member's copy of each Message-ID
arrived.

  1. latency: N posts (50; 5 with --quick) sent to A one at a time, each only after both
     copies of the previous one arrived. Per post: hop = B's copy - A's copy at the
     smarthost (A's relay outbox -> B's intake -> B's pipeline -> B's delivery), and end
     to end = SMTP send to A -> B's copy at the smarthost.
  2. throughput: M posts (1,000; 50 with --quick) sent to A by 4 concurrent clients as
     fast as A accepts them; relays/s = M / (first connect -> last copy from B).

    python bench/relay.py --quick                 # smoke run
    python bench/relay.py                         # full sizes
    python bench/relay.py --profile /tmp/prof     # + py-spy on both nodes in phase 2

Only 127.0.0.1 is used. Every wait is bounded (--timeout, 120 s by default): copies
that do not arrive in time fail the run with a message and the nodes' log tails.
"""

# The harness blocks its own loop only outside the measured windows (setup, teardown):
# ruff: noqa: ASYNC109, ASYNC220, ASYNC230

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import logging
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP as SmtpServer
from fanout import (
    LISTFED,
    WORDS,
    calibrate,
    cpu_seconds,
    free_port,
    machine,
    profile_report,
    py_spy,
    status_kb,
    wait_until_quiet,
)

SENDER = "ada.lovelace@example.org"
NODES = ("a", "b")
LIST = {s: f"coc@lists.{s}.example" for s in NODES}
MEMBER = {s: f"member-{s}@example.net" for s in NODES}
SECRET = "bench-relay-shared-secret-a-b"  # the same on both sides
RETRY = ["1s"] * 5  # a temporary failure costs a second, not the default minute
CLIENTS = 4
SIZES = {"full": (50, 1_000), "quick": (5, 50)}  # N latency posts, M throughput posts
WARMUP = 2  # posts sent (and waited for) before phase 1, not counted


# -- the recording smarthost ------------------------------------------------------------

_MID = re.compile(rb"(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\r\n]*>)")
_TRACE = re.compile(rb"(?im)^x-listfed-trace:")


class Recorder:
    """aiosmtpd handler: when each member's copy of each Message-ID arrived."""

    def __init__(self) -> None:
        # member address -> Message-ID -> arrival times (perf_counter); >1 = duplicate
        self.arrivals: dict[str, dict[str, list[float]]] = {m: {} for m in MEMBER.values()}
        self.strangers: Counter[str] = Counter()  # recipients we did not expect
        self.untraced = 0  # B's copies without X-Listfed-Trace
        self.transactions = 0
        self.changed = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        data: bytes = envelope.original_content or envelope.content
        head = data.split(b"\r\n\r\n", 1)[0]
        m = _MID.search(head)
        mid = m.group(1).decode(errors="replace") if m else "<none>"
        self.transactions += 1
        for rcpt in envelope.rcpt_tos:
            rcpt = rcpt.lower()
            if rcpt in self.arrivals:
                self.arrivals[rcpt].setdefault(mid, []).append(now)
                if rcpt == MEMBER["b"] and not _TRACE.search(head):
                    self.untraced += 1
            else:
                self.strangers[rcpt] += 1
        self.changed.set()
        return "250 2.0.0 Ok: queued"

    def first(self, node: str, mid: str) -> float | None:
        times = self.arrivals[MEMBER[node]].get(mid)
        return times[0] if times else None

    def count(self, node: str, mids: list[str]) -> int:
        got = self.arrivals[MEMBER[node]]
        return sum(1 for m in mids if m in got)

    async def until(self, done: Any, deadline: float) -> bool:
        """Wait until done() is true or perf_counter() passes deadline."""
        while True:
            self.changed.clear()
            if done():
                return True
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return bool(done())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SmtpServer(self, hostname="bench.smarthost", ident="bench smarthost"),
            "127.0.0.1",
            0,
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 5)


# -- the nodes --------------------------------------------------------------------------


def cli(config: Path, *args: str) -> str:
    proc = subprocess.run(
        [*LISTFED, "--config", str(config), *args], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"listfed {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


class NodeProc:
    """One `listfed serve` subprocess in its own temporary folder."""

    def __init__(self, short: str, root: Path, ports: dict[str, int], smarthost: int) -> None:
        self.short = short
        self.workdir = root / short
        self.workdir.mkdir()
        self.port = ports[short]
        self.config = self.workdir / "listfed.toml"
        self.log = self.workdir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        other = next(s for s in NODES if s != short)
        lines = [
            "[node]",
            f'name = "{short}.example"',
            f'domains = ["lists.{short}.example"]',
            'data_dir = "var"',
            "[smtp]",
            f'listen = "127.0.0.1:{self.port}"',
            "[delivery]",  # connections and recipients_per_transaction at their defaults
            f'smarthost = "smtp://127.0.0.1:{smarthost}"',
            "retry = [" + ", ".join(f'"{r}"' for r in RETRY) + "]",
            "[web]",
            'listen = ""',
            "[dns]",  # DMARC look-ups ask a closed loopback port: loopback only
            f'nameservers = ["127.0.0.1:{free_port()}"]',
            'timeout = "1s"',
            "[[peer]]",
            f'name = "{other}"',
            f'node = "{other}.example"',
            f'secret = "{SECRET}"',
            f'domains = ["lists.{other}.example"]',
            f'smtp = "smtp://127.0.0.1:{ports[other]}"',
        ]
        if short == "a":
            lines += [
                "[[route]]",
                'name = "a-to-b"',
                f'from = "{LIST["a"]}"',
                f'to = ["{LIST["b"]}"]',
                "match = { any = true }",
            ]
        self.config.write_text("\n".join(lines) + "\n")

    def prepare(self) -> None:
        cli(self.config, "init")
        cli(self.config, "lists", "create", LIST[self.short], "--policy", "open")
        cli(self.config, "members", "add", LIST[self.short], MEMBER[self.short])

    async def start(self, timeout: float = 30.0) -> None:
        logf = open(self.log, "wb")  # noqa: SIM115 (kept open for the child's life)
        try:
            self.proc = subprocess.Popen(
                [*LISTFED, "--config", str(self.config), "serve"],
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"node {self.short}: listfed serve exited with {self.proc.returncode}:\n"
                    + self.tail()
                )
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError(f"node {self.short}: listfed serve did not start listening")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        try:
            return cpu_seconds(self.pid)
        except (OSError, IndexError, ValueError):
            return 0.0

    def tail(self, n: int = 15) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return ""
        return "\n".join(f"    [{self.short}] {line}" for line in lines)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; blocking (also runs on the way out)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None

    def log_counts(self) -> dict[str, int]:
        """What the node's log says about deliveries, retries and drops."""
        counts: Counter[str] = Counter()
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return {}
        for m in re.finditer(r": (\d+) accepted, (\d+) deferred, (\d+) failed", text):
            counts["delivery batches"] += 1
            counts["recipients deferred (retried)"] += int(m.group(2))
            counts["recipients failed"] += int(m.group(3))
        for line in text.splitlines():
            if " WARNING " in line:
                counts["WARNING lines"] += 1
            elif " ERROR " in line:
                counts["ERROR lines"] += 1
            if "signed by peer node" in line:
                counts["relays accepted as signed"] += 1
            if "signature refused" in line:
                counts["relay signatures refused"] += 1
            if "duplicate" in line.lower():
                counts["lines mentioning duplicate"] += 1
        return dict(counts)

    def ledger(self) -> dict[str, int]:
        """The relay ledger and leftovers, read from the database after the node stopped."""
        db = self.workdir / "var" / "listfed.db"
        out: dict[str, int] = {}
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error:
            return out
        queries = {
            "relay": "SELECT 'relay ' || direction || ' ' || outcome, COUNT(*) FROM relay "
            "GROUP BY direction, outcome",
            "outbox": "SELECT 'outbox left ' || state, COUNT(*) FROM outbox GROUP BY state",
            "queue": "SELECT 'queue ' || state, COUNT(*) FROM queue GROUP BY state",
        }
        try:
            for sql in queries.values():
                try:
                    out.update({str(k): int(v) for k, v in conn.execute(sql)})
                except sqlite3.Error as exc:
                    out[f"({exc})"] = 0
        finally:
            conn.close()
        return out


async def settle(nodes: list[NodeProc], timeout: float = 15.0) -> None:
    """Until neither node burns CPU (last outcome commits) for one 0.3 s interval."""
    deadline = time.monotonic() + timeout
    last = [n.cpu() for n in nodes]
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        now = [n.cpu() for n in nodes]
        if all(b - a <= 0.02 for a, b in zip(last, now, strict=True)):
            return
        last = now


# -- messages and clients ---------------------------------------------------------------


def make_message(tag: str, n: int, rng: random.Random, size: int = 2048) -> tuple[str, bytes]:
    mid = f"<relay.{tag}.{n}.{rng.getrandbits(48):x}@example.org>"
    head = (
        f"From: Ada Lovelace <{SENDER}>\r\n"
        f"To: {LIST['a']}\r\n"
        f"Subject: minutes of the {rng.choice(WORDS)} meeting, item {tag}{n}\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Message-ID: {mid}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    )
    lines = ["Hi all,", ""]
    length = len(head) + 40
    while length < size - 80:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 12))).capitalize() + "."
        lines.append(line)
        length += len(line) + 2
    lines += ["", "In solidarity,", "Ada", ""]
    return mid, (head + "\r\n".join(lines)).encode()


def client(port: int) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        start_tls=False,
        timeout=60,
        local_hostname="bench.client",
    )


async def close(c: aiosmtplib.SMTP) -> None:
    try:
        await c.quit()
    except (aiosmtplib.SMTPException, OSError):
        c.close()


# -- the figures ------------------------------------------------------------------------


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def dist(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    ms = [1000 * x for x in xs]
    return {
        "median_ms": pct(ms, 50),
        "p95_ms": pct(ms, 95),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "n": len(ms),
    }


def fmt(d: dict[str, float]) -> str:
    if not d:
        return "–"
    return (
        f"median {d['median_ms']:7.1f} ms   p95 {d['p95_ms']:7.1f} ms   "
        f"(min {d['min_ms']:.1f}, max {d['max_ms']:.1f}, n={d['n']:.0f})"
    )


@dataclass
class Report:
    sizes: tuple[int, int]
    finished: bool = False
    # phase 1
    hop: dict[str, float] = field(default_factory=dict)  # B copy - A copy
    end_to_end: dict[str, float] = field(default_factory=dict)  # send -> B copy
    to_a: dict[str, float] = field(default_factory=dict)  # send -> A copy
    # phase 2
    accept_s: float = 0.0  # first connect -> last 250 at the clients
    a_done_s: float = 0.0  # first connect -> last copy from A
    b_done_s: float = 0.0  # first connect -> last copy from B
    relays_per_s: float = 0.0
    a_deliveries_per_s: float = 0.0
    accepted_posts_per_s: float = 0.0
    b_steady_per_s: float = 0.0  # (M - 1) / (first -> last copy from B)
    hop_under_load: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # per node, phase 2
    bench_cpu_s: float = 0.0
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    # checks
    distinct: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    untraced: int = 0
    strangers: dict[str, int] = field(default_factory=dict)
    logs: dict[str, dict[str, int]] = field(default_factory=dict)
    ledger: dict[str, dict[str, int]] = field(default_factory=dict)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    calibration_ms: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


# -- the run ----------------------------------------------------------------------------


class Failed(Exception):
    pass


async def latency_phase(
    rec: Recorder, a_port: int, n: int, rng: random.Random, timeout: float, rep: Report
) -> list[str]:
    posts = [make_message("w", i, rng) for i in range(WARMUP)]
    posts += [make_message("l", i, rng) for i in range(n)]
    hops, e2e, to_a = [], [], []
    c = client(a_port)
    await c.connect()
    try:
        for i, (mid, raw) in enumerate(posts):
            sent = time.perf_counter()
            await c.sendmail(SENDER, [LIST["a"]], raw)
            both = await rec.until(
                lambda m=mid: rec.first("a", m) is not None and rec.first("b", m) is not None,
                time.perf_counter() + timeout,
            )
            if not both:
                where = " and ".join(
                    f"{s.upper()}'s copy" for s in NODES if rec.first(s, mid) is None
                )
                raise Failed(f"phase 1, post {i + 1}: {where} not there after {timeout:g} s")
            if i < WARMUP:
                continue
            a_at, b_at = rec.first("a", mid), rec.first("b", mid)
            assert a_at is not None
            assert b_at is not None
            hops.append(b_at - a_at)
            e2e.append(b_at - sent)
            to_a.append(a_at - sent)
    finally:
        await close(c)
    rep.hop, rep.end_to_end, rep.to_a = dist(hops), dist(e2e), dist(to_a)
    return [mid for mid, _ in posts]


async def throughput_phase(
    rec: Recorder,
    nodes: dict[str, NodeProc],
    m: int,
    rng: random.Random,
    timeout: float,
    rep: Report,
) -> list[str]:
    posts = [make_message("t", i, rng) for i in range(m)]
    mids = [mid for mid, _ in posts]
    per_client = [posts[i::CLIENTS] for i in range(CLIENTS)]
    ends: list[float] = []

    async def send(batch: list[tuple[str, bytes]]) -> None:
        c = client(nodes["a"].port)
        await c.connect()
        try:
            for _, raw in batch:
                await c.sendmail(SENDER, [LIST["a"]], raw)
                ends.append(time.perf_counter())
        finally:
            await close(c)

    cpu0 = {s: n.cpu() for s, n in nodes.items()}
    bench0 = time.process_time()
    t0 = time.perf_counter()  # the first SMTP connect
    try:
        await asyncio.wait_for(asyncio.gather(*(send(b) for b in per_client)), timeout)
    except TimeoutError:
        raise Failed(
            f"phase 2: only {len(ends)} of {m} posts accepted by A within {timeout:g} s"
        ) from None
    rep.accept_s = max(ends) - t0
    arrived = await rec.until(
        lambda: rec.count("a", mids) >= m and rec.count("b", mids) >= m,
        time.perf_counter() + timeout,
    )
    if not arrived:
        raise Failed(
            f"phase 2: {timeout:g} s after the last post was accepted, "
            f"{rec.count('a', mids)} of {m} copies from A and "
            f"{rec.count('b', mids)} of {m} copies from B had arrived"
        )
    rep.bench_cpu_s = time.process_time() - bench0
    a_times = [rec.first("a", x) or 0.0 for x in mids]
    b_times = [rec.first("b", x) or 0.0 for x in mids]
    rep.a_done_s = max(a_times) - t0
    rep.b_done_s = max(b_times) - t0
    rep.relays_per_s = m / rep.b_done_s
    rep.a_deliveries_per_s = m / rep.a_done_s
    rep.accepted_posts_per_s = m / rep.accept_s
    if m > 1:
        rep.b_steady_per_s = (m - 1) / max(1e-9, max(b_times) - min(b_times))
    rep.hop_under_load = dist([b - a for a, b in zip(a_times, b_times, strict=True)])
    await settle(list(nodes.values()))
    rep.cpu_s = {s: n.cpu() - cpu0[s] for s, n in nodes.items()}
    return mids


async def run(args: argparse.Namespace) -> Report:
    n, m = SIZES["quick" if args.quick else "full"]
    n, m = args.posts or n, args.relays or m
    rep = Report((n, m))
    rng = random.Random(20261123)
    before = calibrate()
    rec = Recorder()
    root = Path(tempfile.mkdtemp(prefix="listfed-bench-relay-"))
    nodes: dict[str, NodeProc] = {}
    spies: list[subprocess.Popen[bytes]] = []
    try:
        await rec.start()
        ports = {s: free_port() for s in NODES}
        while ports["a"] == ports["b"]:  # bounded in practice: the kernel hands out new ones
            ports["b"] = free_port()
        nodes = {s: NodeProc(s, root, ports, rec.port) for s in NODES}
        for node in nodes.values():
            node.prepare()
        for node in nodes.values():
            await node.start()
        await asyncio.sleep(1.0)  # let the idle workers reach their first wait
        await settle(list(nodes.values()))
        pids = [node.pid for node in nodes.values()]
        if args.quiet_wait > 0 and await wait_until_quiet(pids, args.quiet_wait) < 0:
            rep.notes.append("other processes kept the machine busy; measured anyway")

        print(
            f"\n.. phase 1: relay latency, {n} posts one at a time (after {WARMUP} warm-up posts)",
            flush=True,
        )
        lat_mids = await latency_phase(rec, nodes["a"].port, n, rng, args.timeout, rep)
        await settle(list(nodes.values()))
        if args.quiet_wait > 0 and await wait_until_quiet(pids, args.quiet_wait) < 0:
            rep.notes.append("other processes kept the machine busy; measured anyway")

        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            for s, node in nodes.items():
                spy = await py_spy(node.pid, args.profile / f"node-{s}.txt", args.rate)
                if spy is not None:
                    spies.append(spy)
        print(f".. phase 2: relays/s, {m} posts from {CLIENTS} concurrent clients", flush=True)
        thr_mids = await throughput_phase(rec, nodes, m, rng, args.timeout, rep)
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(5)

        await asyncio.sleep(2.5)  # > one retry step: a late second copy would show up here
        await settle(list(nodes.values()))
        rep.peak_rss_mb = {s: status_kb(node.pid, "VmHWM") / 1024 for s, node in nodes.items()}
        every = lat_mids + thr_mids
        for s in NODES:
            got = rec.arrivals[MEMBER[s]]
            rep.distinct[f"{s} phase 2"] = sum(1 for x in set(thr_mids) if x in got)
            rep.distinct[f"{s} all"] = len(got)
            rep.duplicates[s] = sum(len(t) - 1 for t in got.values() if len(t) > 1)
            unknown = set(got) - set(every)
            if unknown:
                rep.notes.append(f"{len(unknown)} unexpected Message-IDs at {MEMBER[s]}")
        rep.untraced = rec.untraced
        rep.strangers = dict(rec.strangers)
        rep.finished = True
    except Failed as exc:
        rep.notes.append(f"FAILED: {exc}")
        for node in nodes.values():
            rep.notes.append(f"node {node.short} log tail:\n{node.tail()}")
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.kill()
                spy.wait(5)
        for s, node in nodes.items():
            rep.exit_codes[s] = node.stop()
        await rec.stop()
        for s, node in nodes.items():
            rep.logs[s] = node.log_counts()
            rep.ledger[s] = node.ledger()
        rep.calibration_ms = (before, calibrate())
        if args.keep:
            rep.notes.append(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.profile:
        for s in NODES:
            profile_report(args.profile / f"node-{s}.txt")
    return rep


def problems(rep: Report) -> list[str]:
    n, m = rep.sizes
    out = []
    if not rep.finished:
        out.append("the run did not finish (see FAILED above)")
    for s in NODES:
        if not rep.finished:
            break
        if rep.distinct.get(f"{s} phase 2") != m:
            out.append(f"{s}: {rep.distinct.get(f'{s} phase 2')} of {m} Message-IDs in phase 2")
        if rep.distinct.get(f"{s} all") != WARMUP + n + m:
            out.append(f"{s}: {rep.distinct.get(f'{s} all')} of {WARMUP + n + m} in all")
        if rep.duplicates.get(s):
            out.append(f"{s}: {rep.duplicates[s]} duplicate copies")
        if rep.exit_codes.get(s) not in (0, None):
            out.append(f"node {s} exited with {rep.exit_codes[s]}")
    total = WARMUP + n + m
    if rep.finished:
        signed = rep.logs.get("b", {}).get("relays accepted as signed", 0)
        if signed != total:
            out.append(f"B accepted {signed} of {total} relays as signed by A")
        sent = rep.ledger.get("a", {}).get("relay out sent", 0)
        received = rep.ledger.get("b", {}).get("relay in received", 0)
        if sent != total or received != total:
            out.append(f"ledger: A sent {sent}, B received {received}, of {total} relays")
    if rep.untraced:
        out.append(f"{rep.untraced} copies from B without X-Listfed-Trace")
    if rep.strangers:
        out.append(f"unexpected recipients: {rep.strangers}")
    return out


def print_report(rep: Report) -> None:
    n, m = rep.sizes
    print("\n== phase 1: relay latency, one post at a time")
    print(f"  hop (B's copy - A's copy)  {fmt(rep.hop)}")
    print(f"  end to end (send -> B)     {fmt(rep.end_to_end)}")
    print(f"  send -> A's copy           {fmt(rep.to_a)}")
    if rep.accept_s:
        print(f"\n== phase 2: {m:,} posts, {CLIENTS} clients")
        print(
            f"  accepted by A              {rep.accept_s:7.2f} s   "
            f"{rep.accepted_posts_per_s:7.1f} posts/s"
        )
        print(
            f"  A's deliveries done        {rep.a_done_s:7.2f} s   "
            f"{rep.a_deliveries_per_s:7.1f} deliveries/s"
        )
        print(
            f"  B's copies done            {rep.b_done_s:7.2f} s   "
            f"{rep.relays_per_s:7.1f} relays/s (first connect -> last copy from B)"
        )
        print(f"  B steady rate              {rep.b_steady_per_s:7.1f} relays/s (first -> last B)")
        print(f"  hop under load             {fmt(rep.hop_under_load)}")
        print(
            "  CPU                        "
            + ", ".join(f"node {s} {v:.1f} s" for s, v in rep.cpu_s.items())
            + f", bench {rep.bench_cpu_s:.1f} s (smarthost + clients)"
        )
        print(
            "  peak RSS                   "
            + ", ".join(f"node {s} {v:.0f} MB" for s, v in rep.peak_rss_mb.items())
        )
    print("\n== checks")
    for s in NODES:
        print(
            f"  {MEMBER[s]:22s} distinct Message-IDs {rep.distinct.get(f'{s} phase 2', 0):,} of "
            f"{m:,} (phase 2), {rep.distinct.get(f'{s} all', 0):,} of {WARMUP + n + m:,} (all); "
            f"duplicates {rep.duplicates.get(s, 0)}"
        )
    print(f"  B's copies without trace   {rep.untraced}")
    for s in NODES:
        print(f"  node {s} log                 {rep.logs.get(s) or {}}")
        print(f"  node {s} database            {rep.ledger.get(s) or {}}")
        print(f"  node {s} exit status         {rep.exit_codes.get(s)}")
    print(
        f"  machine speed              fixed loop {rep.calibration_ms[0]:.0f} ms before, "
        f"{rep.calibration_ms[1]:.0f} ms after (lower is faster)"
    )
    for note in rep.notes:
        print(f"  note: {note}")
    bad = problems(rep)
    for p in bad:
        print(f"  PROBLEM: {p}")
    verdict = "finished" if rep.finished and not bad else "NOT OK"
    print(f"\n  {verdict}")


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (N=5, M=50)")
    ap.add_argument("--posts", type=int, metavar="N", help="latency posts (default 50)")
    ap.add_argument("--relays", type=int, metavar="M", help="throughput posts (default 1000)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="longest wait for a copy or for the senders, seconds (default 120)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="before each phase wait up to S s for other processes to leave the CPU (0: don't)",
    )
    ap.add_argument(
        "--listfed", metavar="CMD", help="command that runs listfed (default: the venv's)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="py-spy both nodes during phase 2")
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    args = ap.parse_args()
    if args.listfed:
        LISTFED[:] = shlex.split(args.listfed)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command

    info = machine()
    info["listfed"] = " ".join(LISTFED)
    print("listfed relay benchmark" + (" (--quick sizes)" if args.quick else ""))
    for k, v in info.items():
        print(f"  {k:11s} {v}")
    if args.profile:
        print("  NOTE: py-spy samples both nodes in phase 2: its figures are lower")
    sys.stdout.flush()
    rep = await run(args)
    print_report(rep)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "report": asdict(rep)}, indent=2))
    return 0 if rep.finished and not problems(rep) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
