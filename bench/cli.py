#!/usr/bin/env python3
"""How long `listfed` commands take from the shell, Python's start-up included.

    python bench/cli.py                       # every command 10 times, medians
    python bench/cli.py --runs 20
    python bench/cli.py --source /tmp/old --source .   # two checkouts, run in turn
    python bench/cli.py --json out.json
    python bench/cli.py --node /tmp/node --config node.toml --runs 30 \
        --exe /tmp/old/bin/listfed --exe .venv/bin/listfed      # searches on a node made before

A fresh node in a temporary folder for each checkout measured (`listfed init`, a list
with 50 members, a [[peer]] whose secret is in the environment, a [[route]], 200
archived posts from bench/mboxgen.py, posts in the hold queue for the `held` commands
to decide on, a reply to one of the posts for `routes test`), then each command as a
user types it (`python -m listfed`, the checkout first on PYTHONPATH): one run not
counted (bytecode and page cache), then `--runs` runs, the checkouts in turn. It prints
the median wall time and the median CPU time (user + system) of each command; the CPU
time moves less when other processes share the machine. The machine is described first
(bench/fanout.py's machine()). Local files only; every run has a timeout. (`bridges
sync` is not here: it needs an IMAP server.)

With --node, only `archive search` runs, for each --word, on a node that already exists
(a big archive: bench/web.py's, say), read only, by each --source or installed command
(--exe): median, p95, least and CPU, and how busy the rest of the machine was
(bench/clisearch.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import sqlite3
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
    ("doctor --offline", ["doctor", "--offline"]),  # no DNS: loopback only
    ("routes check", ["routes", "check"]),
    ("routes test", ["routes", "test", "reply.eml", "--list", LIST]),  # a trial of the pipeline
    ("held show", ["held", "show", "{kept}"]),
    # the writes; {n} is the run's number (0: the run not counted), so that each run
    # has something to do: a new list, a member still there, a post still held
    ("lists set", ["lists", "set", LIST, "description", "The bench list"]),
    ("lists create", ["lists", "create", "new{n}@bench.example", "--owner", "o@example.org"]),
    ("members add", ["members", "add", LIST, "member001@example.net"]),
    ("members add new", ["members", "add", LIST, "new{n}@example.net"]),
    ("members remove", ["members", "remove", LIST, "member{n:03d}@example.net"]),  # runs < 50
    ("held approve", ["held", "approve", "{approve}"]),
    ("held reject", ["held", "reject", "{reject}", "--reason", "off topic"]),
    ("queue retry", ["queue", "retry"]),
    ("members set", ["members", "set", LIST, "member049@example.net", "name", "Ann {n}"]),
    ("digests send", ["digests", "send"]),
    ("report", ["report"]),
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


def hold(database: Path, count: int) -> None:
    """Posts 1..count from a non-member, held for the list's moderators (written as the
    pipeline leaves them: the bytes in `spooled`, the row in `held`)."""
    now = time.time()
    with sqlite3.connect(database) as conn:
        [(list_id,)] = conn.execute("SELECT id FROM mlist")
        for n in range(1, count + 1):
            raw = f"From: p{n}@example.net\r\nSubject: post {n}\r\n\r\nBody {n}.\r\n"
            spooled = conn.execute("INSERT INTO spooled (raw) VALUES (?)", (raw.encode(),))
            conn.execute(
                "INSERT INTO held (id, list_id, mail_from, sender, subject, message_id, "
                "reason, spooled_id, received, expires) VALUES (?, ?, ?, ?, ?, ?, "
                "'not a member', ?, ?, 0)",
                (n, list_id, f"p{n}@example.net", f"p{n}@example.net", f"post {n}",
                 f"h{n}@bench.example", spooled.lastrowid, now),
            )  # fmt: skip


def words_of(words: list[str], n: int, runs: int) -> list[str]:
    """A command's words for run n (0: the run not counted): held posts 1..runs+1 are
    approved, the next runs+1 rejected, the last one kept for `held show`."""
    held = {"approve": n + 1, "reject": runs + 2 + n, "kept": 2 * runs + 3}
    return [word.format(n=n, **held) for word in words]


def prepare(base: list[str], env: dict[str, str], workdir: Path, runs: int) -> None:
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
    hold(workdir / "var" / "listfed.db", 2 * runs + 3)
    reply(workdir / "var" / "listfed.db", workdir / "reply.eml")


def reply(database: Path, eml: Path) -> None:
    """A tagged reply to an archived post, for `routes test`: the trial reads the archive
    (duplicate rule, thread), the hold queue and the relay ledger."""
    with sqlite3.connect(database) as conn:
        [(parent,)] = conn.execute("SELECT message_id FROM archive ORDER BY id LIMIT 1 OFFSET 50")
    conn.close()
    eml.write_bytes(
        f"From: Ann <ann@example.net>\r\nTo: {LIST}\r\nSubject: Re: [national] the meeting\r\n"
        f"Message-ID: <reply@example.net>\r\nIn-Reply-To: <{parent}>\r\n\r\nAgreed.\r\n".encode()
    )


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
        "--label",
        action="append",
        default=[],
        help="what each --source is, for the output (with --node: then each --exe)",
    )
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--node", type=Path, help="a node made before: only searches, read only")
    ap.add_argument("--config", default="listfed.toml", help="the --node's config, in it")
    ap.add_argument(
        "--word", action="append", help="with --node: what to search for (default: sortition, "
        "a rare word, and budget, a common one)",
    )  # fmt: skip
    ap.add_argument(
        "--exe", action="append", default=[], help="with --node: an installed listfed "
        "command to run instead of a --source (NAME=VALUE words first: its environment)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.node:
        return searches(args)
    if not 1 <= args.runs < 50:
        ap.error("--runs: 1 to 49 (`members remove` takes one of the 50 members a run)")
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
            prepare(BASE, env, workdir, args.runs)
            nodes.append((workdir, env))
        heads = "".join(f"  {label[:20]:>20s}" for label in labels)
        print(f"\n  {'median of ' + str(args.runs):18s}{heads}")
        print(f"  {'(wall / CPU ms)':18s}" + "".join(f"  {'':>20s}" for _ in labels))
        for name, words in COMMANDS:
            command = [*BASE, "--config", "listfed.toml"]
            times: list[list[tuple[float, float]]] = [[] for _ in sources]
            for workdir, env in nodes:  # bytecode written, files in the page cache
                run([*command, *words_of(words, 0, args.runs)], env, workdir)
            for k in range(1, args.runs + 1):  # in turn, so that a busy minute hits each alike
                for n, (workdir, env) in enumerate(nodes):
                    times[n].append(run([*command, *words_of(words, k, args.runs)], env, workdir))
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


def searches(args: argparse.Namespace) -> int:
    """--node: `archive search` on a node made before (bench/clisearch.py)."""
    import clisearch

    if not 1 <= args.runs <= 1000:
        raise SystemExit("--runs: 1 to 1000")
    unset = ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "LISTFED_CONFIG")
    base = {k: v for k, v in os.environ.items() if k not in unset}
    sources = [path.resolve() for path in args.source or ([] if args.exe else [HERE.parent])]
    labels = [*args.label, *(_label(p) for p in sources[len(args.label) :])]
    ways = [
        clisearch.Way(f"{label} (-m)", BASE, {**base, "PYTHONPATH": str(source)})
        for source, label in zip(sources, labels, strict=False)
    ]
    named = args.label[len(sources) :]  # the labels after the sources' name the --exe
    ways += [
        clisearch.way_of_exe(text, base, named[n] if n < len(named) else text)
        for n, text in enumerate(args.exe)
    ]
    info = machine()
    del info["listfed src"]
    info["node"] = f"{args.node.resolve()} ({args.config})"
    print("listfed archive search from the shell")
    for key, value in info.items():
        print(f"  {key:11s} {value}")
    figures = clisearch.measure(
        ways, args.word or ["sortition", "budget"], args.config, args.node, args.runs, print
    )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "searches": figures}, indent=2) + "\n")
    return 0


def _label(source: Path) -> str:
    commit, dirty = git_commit(source)
    return (f"git {commit}" if commit else source.name) + (" +changes" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
