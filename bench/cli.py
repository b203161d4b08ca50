#!/usr/bin/env python3
"""How long `listfed` commands take from the shell, Python's start-up included.

    python bench/cli.py                       # every command 10 times, medians
    python bench/cli.py --runs 20
    python bench/cli.py --source /tmp/old --source .   # two checkouts, run in turn
    python bench/cli.py --json out.json

A fresh node in a temporary folder for each checkout measured (`listfed init`, a list
with 50 members, a [[peer]] whose secret is in the environment, a [[route]], 200
archived posts from bench/mboxgen.py), then each command as a user types it
(`python -m listfed`, the checkout first on PYTHONPATH): one run not counted (bytecode
and page cache), then `--runs` runs, the checkouts in turn. It prints the median wall
time and the median CPU time (user + system) of each command; the CPU time moves less
when other processes share the machine. The machine is described first
(bench/fanout.py's machine()). Local files only; every run has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mboxgen
from fanout import git_commit, machine

HERE = Path(__file__).resolve().parent
LIST = "team@bench.example"
TARGET_MS = 300.0
BASE = [sys.executable, "-m", "listfed"]  # from each source, by PYTHONPATH

CONFIG = """\
[node]
name = "bench.example"
domains = ["bench.example"]

[[peer]]
name = "other"
node = "other.example"
secret = "env:LISTFED_PEER_SECRET"

[[route]]
name = "out"
from = "team@bench.example"
to = ["team@other.example"]
match = { subject_tag = "national" }
"""

# (what it shows, the words after `listfed --config FILE`)
COMMANDS: list[tuple[str, list[str]]] = [
    ("help", ["--help"]),
    ("a group's help", ["lists", "--help"]),
    ("a command's help", ["members", "add", "--help"]),
    ("lists ls", ["lists", "ls"]),
    ("lists show", ["lists", "show", LIST]),
    ("members ls", ["members", "ls", LIST]),
    ("held ls", ["held", "ls"]),
    ("queue ls", ["queue", "ls"]),
    ("routes ls", ["routes", "ls"]),
    ("peers ls", ["peers", "ls"]),
    ("archive search", ["archive", "search", "meeting"]),
    ("doctor", ["doctor"]),
    # a write goes through the SQLAlchemy layer, which takes its time to load
    ("lists set", ["lists", "set", LIST, "description", "The bench list"]),
    ("members add", ["members", "add", LIST, "member001@example.net"]),
]


def environment(source: Path, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(source)
    # compiled bytecode kept in a folder of our own, so the source tree is not touched
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    env["LISTFED_PEER_SECRET"] = secrets.token_urlsafe(32)
    env.pop("LISTFED_CONFIG", None)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run; fails loudly on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:])} exited {proc.returncode}: {proc.stderr[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def prepare(base: list[str], env: dict[str, str], workdir: Path) -> None:
    (workdir / "listfed.toml").write_text(CONFIG)
    mbox = workdir / "posts.mbox"
    with mbox.open("wb") as out:
        mboxgen.generate(out, 200, seed=1, list_address=LIST)
    members = [f"member{i:03d}@example.net" for i in range(50)]
    for words in (
        ["init"],
        ["lists", "create", LIST, "--owner", "owner@example.org"],
        ["members", "add", LIST, *members],
        ["archive", "import", LIST, str(mbox)],
    ):
        run([*base, *words], env, workdir)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=10, help="counted runs of each command")
    ap.add_argument(
        "--source",
        type=Path,
        action="append",
        help="a checkout whose listfed runs (default: this one); give two or more to "
        "compare them, run in turn",
    )
    ap.add_argument(
        "--label", action="append", default=[], help="what each --source is, for the output"
    )
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    sources = [path.resolve() for path in args.source or [HERE.parent]]
    labels = [*args.label, *(_label(p) for p in sources[len(args.label) :])]
    info = machine()
    if sources != [HERE.parent]:
        del info["listfed src"]  # machine() describes this checkout, not the ones measured
    for n, (source, label) in enumerate(zip(sources, labels, strict=True), 1):
        info[f"source {n}"] = f"{source} ({label})"
    print("listfed command-line start-up")
    for key, value in info.items():
        print(f"  {key:11s} {value}")
    figures: dict[str, dict[str, dict[str, float]]] = {label: {} for label in labels}
    with tempfile.TemporaryDirectory(prefix="listfed-bench-cli-") as tmp:
        nodes = []
        for n, source in enumerate(sources):
            workdir = Path(tmp) / f"node{n}"
            workdir.mkdir()
            env = environment(source, workdir)
            prepare(BASE, env, workdir)
            nodes.append((workdir, env))
        heads = "".join(f"  {label[:20]:>20s}" for label in labels)
        print(f"\n  {'median of ' + str(args.runs):18s}{heads}")
        print(f"  {'(wall / CPU ms)':18s}" + "".join(f"  {'':>20s}" for _ in labels))
        for name, words in COMMANDS:
            command = [*BASE, "--config", "listfed.toml", *words]
            times: list[list[tuple[float, float]]] = [[] for _ in sources]
            for workdir, env in nodes:
                run(command, env, workdir)  # bytecode written, files in the page cache
            for _ in range(args.runs):  # in turn, so that a busy minute hits each alike
                for n, (workdir, env) in enumerate(nodes):
                    times[n].append(run(command, env, workdir))
            cells = []
            for label, measured in zip(labels, times, strict=True):
                wall = 1000 * statistics.median(t[0] for t in measured)
                cpu = 1000 * statistics.median(t[1] for t in measured)
                figures[label][name] = {"wall_ms": round(wall, 1), "cpu_ms": round(cpu, 1)}
                mark = "*" if wall > TARGET_MS else " "
                cells.append(f"  {wall:10.0f} / {cpu:5.0f}{mark} ")
            print(f"  {name:18s}{''.join(cells)}", flush=True)
    print(f"\n  * over {TARGET_MS:.0f} ms wall")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "commands": figures}, indent=2) + "\n")
    return 0


def _label(source: Path) -> str:
    commit, dirty = git_commit(source)
    return (f"git {commit}" if commit else source.name) + (" +changes" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
