#!/usr/bin/env python3
"""A network search (issue 23) when peers fail: the time to answer against the deadline,
and the CPU it costs.

    python bench/netsearch.py --quick            # 1,000 posts a node, 5 queries: ~1 min
    python bench/netsearch.py                    # 10,000 posts a node, 20 queries
    python bench/netsearch.py --deadline 1s      # another [web] network_deadline

Three nodes, each a real `listfed serve` with its web face (one process) on a free
127.0.0.1 port and an archive of bench/mboxgen.py's posts (`archive import`): philly
asks; nyc answers;
atl is started and then stopped (down: its port refuses). A fourth peer, "slow", is a
loopback socket of this script that accepts connections and never answers (a node that
hangs). philly's config names all three peers' web faces. Then, query by query:

1. `listfed archive search --network Q --json` on philly's config with nyc as its only
   peer: every peer answers (the time a network search takes when nothing is wrong);
2. the same with all three peers: atl refused, slow cut at the deadline;
3. philly's web page `/search?q=Q&network=1` over HTTP, all three peers.

For each: wall time (median, p95, max) against the deadline, and CPU per search: the
command's own process (utime + stime of the child), or philly's and nyc's web children
(/proc/PID/stat), and how busy the whole machine was meanwhile. It checks
that every answer has hits of philly and nyc and names atl (refused) and slow (timeout)
as missing; a failed check is an error (exit 1). Only loopback is used.
"""

# The harness blocks its own loop outside the measured windows only:
# ruff: noqa: ASYNC251

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote_plus

import mboxgen
from archive import QUERIES, StepFailed, listfed, median, percentile
from fanout import _cpu_or_zero, calibrate, free_port, git_commit, machine, system_busy
from web import Daemon

NODES = ("philly", "nyc", "atl")
WORKERS = 1  # web face processes per node: one, so that its CPU is one process's


def domain(short: str) -> str:
    return f"lists.{short}.example"


def closed_port() -> int:
    """A loopback port nothing listens on: the nodes' resolver (no DNS off this machine)."""
    return free_port()


class Silent:
    """A peer that takes connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.held: list[socket.socket] = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopping:
            with suppress(OSError):
                conn, _ = self.listener.accept()
                self.held.append(conn)

    def close(self) -> None:
        self.stopping = True
        self.listener.close()
        for conn in self.held:
            conn.close()


def config_text(short: str, smtp: int, web: int, deadline: str, peers: dict[str, str]) -> str:
    text = (
        f'[node]\nname = "{domain(short)}"\ndomains = ["{domain(short)}"]\ndata_dir = "var"\n'
        f'[smtp]\nlisten = "127.0.0.1:{smtp}"\n'
        f'[dns]\nnameservers = ["127.0.0.1:{closed_port()}"]\ntimeout = "1s"\n'
        f'[web]\nlisten = "127.0.0.1:{web}"\nnetwork_deadline = "{deadline}"\n'
        f"search_rate = 1000000\nworkers = {WORKERS}\n"
    )
    for name, url in peers.items():
        node = domain(name) if name in NODES else f"{name}.example"
        text += f'[[peer]]\nname = "{name}"\nnode = "{node}"\ntrust = "dkim"\nweb = "{url}"\n'
    return text


def make_node(base: Path, short: str, posts: int, seed: int) -> Path:
    folder = base / short
    folder.mkdir()
    config = folder / "listfed.toml"
    config.write_text(config_text(short, free_port(), free_port(), "3s", {}))
    listfed(config, "init")
    address = f"team@{domain(short)}"
    listfed(config, "lists", "create", address)
    mbox = folder / "archive.mbox"
    with mbox.open("wb") as out:
        mboxgen.generate(out, posts, seed, address)
    listfed(config, "archive", "import", address, str(mbox), timeout=900)
    mbox.unlink()
    return config


def cli_search(config: Path, query: str) -> tuple[float, float, dict[str, object]]:
    """(wall s, CPU s of the command, its JSON answer)."""
    import subprocess

    from fanout import LISTFED

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [*LISTFED, "--config", str(config), "archive", "search", "--network", "--json", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (kids.ru_utime + kids.ru_stime)
    if proc.returncode != 0:
        raise StepFailed(f"archive search --network {query!r}: {proc.stderr[-500:]}")
    return wall, cpu, json.loads(proc.stdout)


def page_search(port: int, query: str) -> tuple[float, str]:
    url = f"http://127.0.0.1:{port}/search?network=1&q={quote_plus(query)}"
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        page = answer.read().decode()
    return time.perf_counter() - started, page


def check_cli(answer: dict[str, object], expected: set[str], missing: dict[str, str]) -> None:
    hits = answer["hits"]
    assert isinstance(hits, list)
    nodes = {h["node"] for h in hits}
    if not expected <= nodes:
        raise StepFailed(f"hits from {sorted(nodes)}, expected {sorted(expected)}")
    got = {m["peer"]: m["reason"].split(":")[0] for m in answer["missing"]}  # type: ignore[attr-defined]
    if got != missing:
        raise StepFailed(f"missing {got}, expected {missing}")


def check_page(page: str) -> None:
    for needed in (
        "No results from lists.atl.example (atl): refused",
        "No results from slow.example (slow): timeout",
        f"on {domain('nyc')}",
        f"on {domain('philly')}",
    ):
        if needed not in page:
            raise StepFailed(f"the page lacks {needed!r}")


def summary(label: str, walls: list[float], cpus: list[float], deadline: float) -> str:
    ms = [1000 * median(walls), 1000 * percentile(walls, 95), 1000 * max(walls)]
    return (
        f"{label:<44} {len(walls):>3}  {ms[0]:>7.0f} {ms[1]:>7.0f} {ms[2]:>7.0f}  "
        f"{ms[2] - 1000 * deadline:>+7.0f}  {1000 * median(cpus):>7.1f}"
    )


async def run(args: argparse.Namespace) -> int:
    deadline = float(args.deadline.rstrip("s"))
    queries = [q for _, q in QUERIES][: args.queries]
    commit, dirty = git_commit(Path(__file__).parent)
    print(f"listfed {commit}{' (uncommitted changes)' if dirty else ''}")
    for key, value in machine().items():
        print(f"  {key}: {value}")
    base = Path(tempfile.mkdtemp(prefix="listfed-netsearch-"))
    print(f".. three nodes of {args.posts:,} posts each in {base}", flush=True)
    configs = {s: make_node(base, s, args.posts, seed) for seed, s in enumerate(NODES, 1)}
    ports = {s: (free_port(), free_port()) for s in NODES}
    silent = Silent()
    webs = {s: f"http://127.0.0.1:{ports[s][1]}" for s in NODES}
    full = {"nyc": webs["nyc"], "atl": webs["atl"], "slow": silent.url}
    for short, config in configs.items():
        peers = full if short == "philly" else {}
        config.write_text(config_text(short, *ports[short], args.deadline, peers))
    only_nyc = configs["philly"].with_name("only-nyc.toml")
    only_nyc.write_text(
        config_text("philly", free_port(), free_port(), args.deadline, {"nyc": webs["nyc"]})
    )
    daemons = {s: Daemon(configs[s], *ports[s], WORKERS) for s in NODES}
    status = 0
    try:
        for daemon in daemons.values():
            await daemon.start()
        await daemons["atl"].stop()  # down: started, then stopped
        print(f".. atl stopped; slow at {silent.url}; deadline {deadline:g} s", flush=True)
        rows = []
        mark = system_busy()[0]
        walls, cpus = [], []
        for q in queries:
            wall, cpu, answer = cli_search(only_nyc, q)
            check_cli(answer, {domain("philly"), domain("nyc")}, {})
            walls.append(wall)
            cpus.append(cpu)
        rows.append(summary("CLI, nyc only (every peer answers)", walls, cpus, deadline))
        walls, cpus = [], []
        for q in queries:
            wall, cpu, answer = cli_search(configs["philly"], q)
            check_cli(
                answer, {domain("philly"), domain("nyc")}, {"atl": "refused", "slow": "timeout"}
            )
            walls.append(wall)
            cpus.append(cpu)
        rows.append(summary("CLI, nyc + atl down + slow", walls, cpus, deadline))
        [philly_web], [nyc_web] = daemons["philly"].web_pids, daemons["nyc"].web_pids
        walls = []
        # /proc counts CPU in ticks of 10 ms: the phase's total, shared out, is finer
        before = (_cpu_or_zero(philly_web), _cpu_or_zero(nyc_web))
        for q in queries:
            wall, page = page_search(ports["philly"][1], q)
            check_page(page)
            walls.append(wall)
        time.sleep(0.2)  # the cut threads end on their own; let their CPU be counted
        spent = (_cpu_or_zero(philly_web) - before[0], _cpu_or_zero(nyc_web) - before[1])
        cpus = [spent[0] / len(queries)] * len(queries)
        served = [spent[1] / len(queries)]
        rows.append(summary("web page, nyc + atl down + slow", walls, cpus, deadline))
        busy = system_busy()[0] - mark
        print()
        print(f"{'':<44} {'n':>3}  {'median':>7} {'p95':>7} {'max':>7}  {'max-dl':>7}  {'CPU':>7}")
        print(f"{'(ms; deadline ' + format(deadline, 'g') + ' s)':<44}")
        for row in rows:
            print(row)
        print(
            f"nyc's web child per /search.json it served: {1000 * served[0]:.1f} ms CPU "
            f"(mean); the machine was busy {busy:.1f} CPU s in all, "
            f"calibration now {calibrate():.0f} ms"
        )
    except StepFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        status = 1
    finally:
        for daemon in daemons.values():
            await daemon.stop()
        silent.close()
        if args.keep:
            print(f".. kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 posts a node, 5 queries")
    parser.add_argument("--posts", type=int, default=10_000, help="posts in each node's archive")
    parser.add_argument(
        "--queries", type=int, default=len(QUERIES), help="how many of archive.py's"
    )
    parser.add_argument("--deadline", default="3s", help="[web] network_deadline, in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the nodes' folder")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.queries = 1_000, 5
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
