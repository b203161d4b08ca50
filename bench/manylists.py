#!/usr/bin/env python3
"""A node of many small lists (issue 18 item 7): 1,000 lists of 100 members each.

Builds the node, then measures a real `listfed serve` on loopback, beside a node of one
such list built the same way, so that what grows with the number of lists shows:

  build      list 1 with the CLI (`lists create`, `lists set`, `members import`), the
             next ones directly through listfed.ops (one write transaction a list, what
             those commands do; a CLI process a list would take most of an hour), timed
             per hundred; the last list with the CLI again, timed like the first
  start-up   `serve` started -> it answers SMTP (the 220 greeting), and its CPU
  memory     RSS once idle, and the peak (VmHWM) after the posts
  idle       the daemon's CPU over a few seconds of doing nothing
  a post     one post to the first and one to the last list, each to its 100 members:
             first connect -> the smarthost accepted the last of them, and daemon CPU
  the CLI    `listfed lists ls` on the node

    python bench/manylists.py                     # 1,000 lists x 100 members
    python bench/manylists.py --lists 100 --repeat 1
    python bench/manylists.py --node /tmp/n --keep   # build once, keep it, measure again

The daemon delivers to the same in-process responder as bench/fanout.py. Only loopback
is used; every wait is bounded.
"""

# The harness blocks its own loop only outside the measured window (the build, the CLI):
# ruff: noqa: ASYNC109

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
from fanout import (
    DOMAIN,
    LIST,
    LISTFED,
    SENDER,
    Daemon,
    Responder,
    cpu_seconds,
    machine,
    make_message,
    status_kb,
)


def list_address(n: int) -> str:
    """List n (1-based); list 1 is fanout.py's LIST, made by Daemon.prepare()."""
    return LIST if n == 1 else f"list{n:04d}@{DOMAIN}"


def people(n: int, size: int) -> list[str]:
    return [f"user{i:03d}.l{n:04d}@example.net" for i in range(1, size + 1)]


@dataclass
class Build:
    lists: int
    members: int
    seconds: float = 0.0
    per_hundred: list[float] = field(default_factory=list)  # s per 100 lists, in order
    first_cli: dict[str, float] = field(default_factory=dict)  # list 1's CLI steps, s
    last_cli: dict[str, float] = field(default_factory=dict)  # the last list's
    db_mb: float = 0.0


def _cli_steps(daemon: Daemon, address: str, members: list[str]) -> dict[str, float]:
    """The last list, made as list 1 was: each CLI step timed."""
    daemon.setup = {}
    daemon._step("lists create", "lists", "create", address, "--policy", "open")
    daemon._step("lists set", "lists", "set", address, "dmarc", "none")
    path = daemon.workdir / "last-members.txt"
    path.write_text("".join(f"{a}\n" for a in members))
    daemon._step("members import", "members", "import", address, str(path))
    return dict(daemon.setup)


def build(daemon: Daemon, lists: int, members: int) -> Build:
    """List 1 and the last with the CLI, the others through listfed.ops directly."""
    from listfed.config import load_config
    from listfed.db.engine import Database
    from listfed.listinfo import Policy
    from listfed.ops import lists as list_ops
    from listfed.ops import members as member_ops

    b = Build(lists, members)
    t0 = time.perf_counter()
    daemon.members = 0  # list 1's members are imported below, as the last list's are
    daemon.prepare()
    b.first_cli = dict(daemon.setup)
    path = daemon.workdir / "first-members.txt"
    path.write_text("".join(f"{a}\n" for a in people(1, members)))
    daemon._step("members import", "members", "import", LIST, str(path))
    b.first_cli["members import"] = daemon.setup["members import"]
    config = load_config(daemon.config, dict(os.environ), daemon.workdir)
    db = Database(config.node.data_dir / "listfed.db", config.storage.busy_timeout)
    try:
        mark = time.perf_counter()
        for n in range(2, lists):
            address = list_address(n)
            with db.write() as s:
                list_ops.create(s, address, config.node.domains, Policy.OPEN)
                list_ops.set_value(s, address, "dmarc", "none")
                member_ops.add(s, address, people(n, members))
            if n % 100 == 0:
                now = time.perf_counter()
                b.per_hundred.append(now - mark)
                mark = now
    finally:
        db.close()
    if lists > 1:
        b.last_cli = _cli_steps(daemon, list_address(lists), people(lists, members))
    b.seconds = time.perf_counter() - t0
    b.db_mb = sum(f.stat().st_size for f in (daemon.workdir / "var").glob("listfed.db*")) / 1e6
    return b


@dataclass
class Run:
    node: str
    start_s: float = 0.0  # `serve` started -> 220 greeting read
    start_cpu_s: float = 0.0
    rss_idle_mb: float = 0.0
    idle_cpu_s: float = 0.0  # over IDLE_WINDOW seconds
    posts: dict[str, tuple[float, float]] = field(default_factory=dict)  # list -> (s, CPU s)
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


IDLE_WINDOW = 5.0


async def answers_smtp(daemon: Daemon, timeout: float = 120.0) -> float:
    """Start `serve`; seconds until it answers SMTP with its 220 greeting."""
    t0 = time.perf_counter()
    await daemon.start(timeout)  # listening
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
    try:
        greeting = await asyncio.wait_for(reader.readline(), timeout)
        took = time.perf_counter() - t0
        if not greeting.startswith(b"220"):
            raise RuntimeError(f"unexpected greeting {greeting!r}")
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()
    return took


async def one_post(
    daemon: Daemon, responder: Responder, address: str, members: int, n: int, timeout: float
) -> tuple[float, float]:
    """One post to `address`: seconds to its last member at the smarthost, daemon CPU."""
    raw = make_message(n, random.Random(n)).replace(LIST.encode(), address.encode(), 1)
    responder.reset(members)
    cpu0 = cpu_seconds(daemon.pid)
    t0 = time.perf_counter()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=daemon.port, start_tls=False, timeout=60)
    await client.connect()
    try:
        await client.sendmail(SENDER, [address], raw)
    finally:
        await client.quit()
    await asyncio.wait_for(responder.done.wait(), timeout)
    assert responder.last_rcpt is not None
    took = responder.last_rcpt - t0
    await daemon.settle()
    return took, cpu_seconds(daemon.pid) - cpu0


async def measure(
    name: str,
    daemon: Daemon,
    responder: Responder,
    lists: int,
    members: int,
    timeout: float,
    serial: int,
) -> Run:
    """One start of `daemon`; `serial` makes its posts' Message-IDs new to the node (a
    post sent again would be dropped as a duplicate)."""
    run = Run(name)
    try:
        run.start_s = await answers_smtp(daemon, timeout)
        run.start_cpu_s = cpu_seconds(daemon.pid)
        await asyncio.sleep(1.0)
        await daemon.settle()
        run.rss_idle_mb = status_kb(daemon.pid, "VmRSS") / 1024
        cpu0 = cpu_seconds(daemon.pid)
        await asyncio.sleep(IDLE_WINDOW)
        run.idle_cpu_s = cpu_seconds(daemon.pid) - cpu0
        for i, n in enumerate(dict.fromkeys([1, lists])):
            address = list_address(n)
            run.posts[address] = await one_post(
                daemon, responder, address, members, 10 * serial + i, timeout
            )
        await asyncio.sleep(0.5)  # anything doubled would show up here
        if responder.recipients != members:
            run.notes.append(f"{responder.recipients} recipients for the last post, not {members}")
        run.peak_rss_mb = status_kb(daemon.pid, "VmHWM") / 1024
    except (TimeoutError, RuntimeError, OSError, aiosmtplib.SMTPException) as exc:
        run.notes.append(f"{type(exc).__name__}: {exc}\n{daemon.tail()}")
    finally:
        code = await daemon.stop()
        if code not in (0, None):
            run.notes.append(f"daemon exited with {code}")
    return run


def cli_seconds(daemon: Daemon, *args: str) -> float:
    t = time.perf_counter()
    subprocess.run(
        [*LISTFED, "--config", str(daemon.config), *args],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return time.perf_counter() - t


def print_build(b: Build) -> None:
    print(f"\n== build: {b.lists:,} lists x {b.members} members in {b.seconds:.1f} s")
    steps = ", ".join(f"{k} {v:.2f}" for k, v in b.first_cli.items())
    print(f"  list 1 by the CLI, s          {steps}")
    if b.last_cli:
        steps = ", ".join(f"{k} {v:.2f}" for k, v in b.last_cli.items())
        print(f"  list {b.lists:,} by the CLI, s      {steps}")
    if b.per_hundred:
        hundreds = ", ".join(f"{s:.2f}" for s in b.per_hundred)
        print(f"  direct, s per 100 lists       {hundreds}")
    print(f"  database                      {b.db_mb:.0f} MB")


def print_run(r: Run) -> None:
    print(f"\n== {r.node}")
    print(f"  start-up         {r.start_s:.2f} s to the 220 greeting, {r.start_cpu_s:.2f} s CPU")
    print(f"  RSS              {r.rss_idle_mb:.1f} MB idle, peak {r.peak_rss_mb:.1f} MB")
    print(f"  idle CPU         {r.idle_cpu_s:.3f} s over {IDLE_WINDOW:.0f} s")
    for address, (took, cpu) in r.posts.items():
        print(f"  post to {address:28s} {took:.3f} s to the last member, daemon CPU {cpu:.2f} s")
    for note in r.notes:
        print(f"  note: {note}")


def _median_line(what: str, value: list[float], unit: str) -> None:
    digits = 1 if unit == "MB" else 3
    shown = ", ".join(f"{v:.{digits}f}" for v in value)
    print(f"  {what:28s} median {statistics.median(value):.{digits}f} {unit} ({shown})")


def summary(name: str, runs: list[Run]) -> None:
    ok = [r for r in runs if not r.notes]
    if not ok:
        return
    print(f"\n-- {name}, {len(ok)} start(s)")
    _median_line("start-up to 220", [r.start_s for r in ok], "s")
    _median_line("start-up CPU", [r.start_cpu_s for r in ok], "s")
    _median_line("RSS idle", [r.rss_idle_mb for r in ok], "MB")
    _median_line("peak RSS", [r.peak_rss_mb for r in ok], "MB")
    for address in ok[0].posts:
        local = address.split("@")[0]
        _median_line(f"post to {local}", [r.posts[address][0] for r in ok], "s")
        _median_line(f"post to {local}, CPU", [r.posts[address][1] for r in ok], "s")


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lists", type=int, default=1_000)
    ap.add_argument("--members", type=int, default=100, help="members per list")
    ap.add_argument("--repeat", type=int, default=3, help="starts of each node (median shown)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per wait")
    ap.add_argument("--node", type=Path, help="the big node's folder (built if missing)")
    ap.add_argument("--keep", action="store_true", help="keep the nodes' folders")
    args = ap.parse_args()

    print("listfed many-lists benchmark")
    for k, v in machine().items():
        print(f"  {k:11s} {v}")
    responder = Responder()
    await responder.start()
    made: list[Path] = []
    failed = False
    try:
        nodes: list[tuple[str, Daemon, int]] = []
        for name, lists, where in (
            ("one list", 1, None),
            (f"{args.lists:,} lists", args.lists, args.node),
        ):
            folder = where or Path(tempfile.mkdtemp(prefix="listfed-bench-lists-"))
            fresh = not (folder / "listfed.toml").exists()
            if fresh:
                folder.mkdir(parents=True, exist_ok=True)
                if where is None or not args.keep:
                    made.append(folder)
            daemon = Daemon(folder, responder.port, args.members)
            if fresh:
                print(f"\n.. building {name} in {folder}", flush=True)
                print_build(build(daemon, lists, args.members))
            else:  # kept from an earlier run: the config names the old ports
                text = daemon.config.read_text()
                daemon.port = int(text.split('listen = "127.0.0.1:')[1].split('"')[0])
                head, _, rest = text.partition("smarthost = ")
                rest = rest.partition("\n")[2]
                daemon.config.write_text(
                    f'{head}smarthost = "smtp://127.0.0.1:{responder.port}"\n{rest}'
                )
                print(f"\n.. {name}: the node kept in {folder}", flush=True)
            nodes.append((name, daemon, lists))
        for name, daemon, _lists in nodes:
            print(f"  `listfed lists ls` on {name}: {cli_seconds(daemon, 'lists', 'ls'):.2f} s")
        runs: dict[str, list[Run]] = {name: [] for name, _, _ in nodes}
        for i in range(max(1, args.repeat)):
            for name, daemon, lists in nodes:  # alternating: the VM's speed drifts
                print(f"\n.. {name}, start {i + 1} of {args.repeat}", flush=True)
                serial = int(time.time()) * 10 + i  # new Message-IDs on a kept node too
                r = await measure(
                    name, daemon, responder, lists, args.members, args.timeout, serial
                )
                print_run(r)
                failed = failed or bool(r.notes)
                runs[name].append(r)
        for name, rs in runs.items():
            summary(name, rs)
    finally:
        await responder.stop()
        for folder in made:
            if args.keep:
                print(f"  kept {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
