#!/usr/bin/env python3
"""The archive at 100,000 messages: import rate, database size, search latency.

    python bench/archive.py                      # 100,000 messages, ~5 min
    python bench/archive.py --quick              # 5,000 messages, a smoke run
    python bench/archive.py --mbox /tmp/archive100k.mbox   # reuse (or keep) the mbox
    python bench/archive.py --keep /tmp/node     # keep the node for a look afterwards
    python bench/archive.py --json out.json --reindex --profile /tmp/prof

A fresh node in a temporary folder (`listfed init`, `lists create`), then, as a user
would run them: `listfed archive import` of an mbox made by bench/mboxgen.py (timed),
the database's size next to the mbox's, 20 fixed queries run in this process against
a read-only connection (median and p95), and `listfed archive search` from a shell
(Python's start-up included). Targets missed are reported, not an error: the exit
status is 0 when every step ran, 1 when one failed. Local files only; every command
has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mboxgen
from fanout import (
    _ENTRY,
    LISTFED,
    _package,
    _short,
    calibrate,
    git_commit,
    machine,
    system_busy,
    wait_until_quiet,
)

HERE = Path(__file__).resolve().parent
LIST = "team@bench.example"
IMPORT_TARGET = 1_500  # messages/s
SIZE_TARGET = 1.5  # database / mbox
SEARCH_TARGET_MS = 50.0  # p95 in-process
CLI_TARGET_MS = 300.0  # median wall time of one `listfed archive search`

# (what it exercises, the query): fixed, and drawn from mboxgen's vocabulary and authors
# (checked by check_queries), so that every query has answers at any size.
QUERIES: tuple[tuple[str, str], ...] = (
    ("most common word", "meeting"),
    ("common word", "budget"),
    ("rare word", "sortition"),
    ("rare word", "ombudsperson"),
    ("two words", "quorum motion"),
    ("three words", "childcare transport venue"),
    ("phrase", '"general assembly"'),
    ("phrase and word", '"rent strike" tenants'),
    ("from: name", "from:lovelace"),
    ("from: address", "from:jose.garcia@riseup.example"),
    ("from: and word", "from:okafor budget"),
    ("subject: word", "subject:agenda"),
    ("subject: phrase", 'subject:"code of conduct"'),
    ("date range and word", "after:2019-01-01 before:2019-04-01 childcare"),
    ("before: and word", "before:2016-01-01 leaflets"),
    ("OR", "leaflets OR posters"),
    ("OR of three", "canvass OR phonebank OR doorknock"),
    ("exclusion", "assembly -budget"),
    ("without accents (réunion)", "reunion"),
    ("list: and word", "list:team minutes"),
)
CLI_QUERY = "budget"  # in 3 messages of 4: the answer costs what ranking them all costs
CLI_RARE = "sortition"  # in 1 %: the run is mostly Python's start-up and imports
# frames every sample of a process has: left out of the inclusive profile
_SKIP = (*_ENTRY, "multiprocessing/", "concurrent/futures/", "runpy.py", "listfed/__main__.py")


@dataclass
class Figures:
    messages: int = 0
    mbox_bytes: int = 0
    import_seconds: float = 0.0
    import_rate: float = 0.0
    import_cpu_seconds: float = 0.0  # the command and its worker processes, user + system
    import_peak_rss_mb: float = 0.0  # the largest of them
    import_other_cpu_seconds: float = 0.0  # other processes on the machine meanwhile
    search_other_cpu_seconds: float = 0.0  # the same during the in-process and CLI searches
    quiet_wait_seconds: float = 0.0  # waited for the machine to go quiet; -1: it never did
    import_output: str = ""
    db_bytes: int = 0
    db_ratio: float = 0.0
    db_breakdown: dict[str, int] = field(default_factory=dict)  # dbstat: name -> bytes
    search_median_ms: float = 0.0
    search_p95_ms: float = 0.0
    search_max_ms: float = 0.0
    search_first_median_ms: float = 0.0  # the warm-up run of each query
    per_query: list[dict[str, object]] = field(default_factory=list)
    cli_median_ms: float = 0.0
    cli_max_ms: float = 0.0
    cli_runs_ms: list[float] = field(default_factory=list)
    cli_rare_median_ms: float = 0.0
    cli_rare_runs_ms: list[float] = field(default_factory=list)
    reindex_seconds: float | None = None
    calibration_ms: tuple[float, float] = (0.0, 0.0)  # fixed loop before / after the import
    notes: list[str] = field(default_factory=list)


class StepFailed(Exception):
    pass


def check_queries() -> None:
    """Every word of every query occurs in what mboxgen writes (catches a renamed word)."""
    known = {_fold(w) for v in (*mboxgen.VOCABULARY, *mboxgen.RARE) for w in v.split()}
    for _name, address in mboxgen.FIXED_AUTHORS:
        known.update(re.split(r"[.@]", address))
    for name, _address in mboxgen.FIXED_AUTHORS:
        known.update(_fold(w) for w in name.split())
    known.add("team")  # list:team
    for _what, query in QUERIES:
        for word in re.findall(r"[^\W\d_]+", re.sub(r"\b[a-z]+:(?=\S)", " ", query)):
            if word not in ("OR",) and _fold(word) not in known:
                raise SystemExit(f"query {query!r}: {word!r} is not in mboxgen's vocabulary")


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKD", word.lower()).encode("ascii", "ignore").decode()


def git_revision() -> str:
    rev, dirty = git_commit(HERE.parent / "listfed")
    return (rev or "?") + (" + uncommitted changes in listfed/" if dirty else "")


def listfed(config: Path, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*LISTFED, "--config", str(config), *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise StepFailed(
            f"listfed {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}"
        )
    return proc


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil without floats' surprises
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# -- the steps --------------------------------------------------------------------------


def make_mbox(path: Path, count: int, seed: int) -> None:
    print(f".. writing {count:,} messages to {path} (bench/mboxgen.py, seed {seed})", flush=True)
    started = time.perf_counter()
    with path.open("wb", buffering=1 << 20) as out:
        stats = mboxgen.generate(out, count, seed, LIST)
    print(f"   {mboxgen.describe(stats)}; {time.perf_counter() - started:.1f} s")


def count_entries(path: Path) -> int:
    """Readable messages in an existing mbox (one made earlier or elsewhere)."""
    from listfed.archive.mbox import read_mbox

    return sum(1 for entry in read_mbox(path) if not entry.error)


def make_node(workdir: Path) -> Path:
    config = workdir / "listfed.toml"
    config.write_text(
        '[node]\nname = "bench.example"\ndomains = ["bench.example"]\ndata_dir = "var"\n'
    )
    listfed(config, "init")
    listfed(config, "lists", "create", LIST)
    return config


def run_import(
    config: Path, mbox: Path, fig: Figures, timeout: float, profile: Path | None, rate: int
) -> None:
    command = [*LISTFED, "--config", str(config), "archive", "import", LIST, str(mbox)]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [
            spy, "record", "--format", "raw", "--subprocesses", "--threads", "--nonblocking",
            "--rate", str(rate), "-o", str(profile / "import.txt"), "--", *command,
        ]  # fmt: skip
    log = config.parent / "import.stderr"
    fig.calibration_ms = (calibrate(), 0.0)
    with mbox.open("rb") as f:  # the file comes from the page cache in every run
        while f.read(1 << 24):
            pass
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    mark = cpu_mark()
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout
        )
    fig.import_seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fig.import_cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    fig.import_other_cpu_seconds = others_since(mark)
    fig.import_peak_rss_mb = after.ru_maxrss / 1024  # of the largest child so far
    fig.calibration_ms = (fig.calibration_ms[0], calibrate())
    fig.import_output = proc.stdout.strip()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise StepFailed(f"archive import exited {proc.returncode}: {tail}")
    added = re.search(r"([\d,]+) added", fig.import_output)
    if added is None:
        raise StepFailed(f"archive import said nothing about what it added: {fig.import_output!r}")
    n = int(added[1].replace(",", ""))
    if n != fig.messages:
        fig.notes.append(f"the mbox has {fig.messages:,} messages; the import added {n:,}")
    fig.import_rate = n / fig.import_seconds


def cpu_mark() -> tuple[float, float, float]:
    """CPU seconds so far: the whole machine busy, this process, its children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return system_busy()[0], time.process_time(), kids.ru_utime + kids.ru_stime


def others_since(mark: tuple[float, float, float]) -> float:
    """CPU seconds that processes other than this one and its children used since `mark`."""
    now = cpu_mark()
    return max(0.0, (now[0] - mark[0]) - (now[1] - mark[1]) - (now[2] - mark[2]))


def measure_size(db: Path, fig: Figures) -> None:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            fig.notes.append("wal_checkpoint(TRUNCATE) could not finish: the WAL is counted")
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
        fig.db_breakdown = {str(name): int(size) for name, size in rows}
        columns = conn.execute(
            "SELECT COUNT(*), SUM(length(raw)), SUM(size), SUM(length(body_text)), "
            "SUM(length(subject) + length(sender) + length(sender_name) + length(message_id) "
            "+ length(thread_id) + length(attachments)) FROM archive"
        ).fetchone()
        count, raw, size, text, small = (int(x or 0) for x in columns)
        fig.db_breakdown["(archive.raw, compressed)"] = raw
        fig.db_breakdown["(archive.raw, uncompressed)"] = size
        fig.db_breakdown["(archive.body_text)"] = text
        fig.db_breakdown["(archive: other text columns)"] = small
        fig.db_breakdown["(archive rows)"] = count
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    fig.db_bytes = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    fig.db_ratio = fig.db_bytes / fig.mbox_bytes


def measure_search(db: Path, fig: Figures, rounds: int) -> None:
    from listfed.archive import opendb, search
    from listfed.errors import ListfedError

    conn = opendb.connect(db, 5.0, readonly=True)
    times: dict[str, list[float]] = {q: [] for _, q in QUERIES}
    first: dict[str, float] = {}
    hits: dict[str, int | str] = {}
    try:
        for rnd in range(rounds + 1):  # round 0 is the warm-up
            for _what, query in QUERIES:
                if isinstance(hits.get(query), str):
                    continue  # it failed: reported once
                started = time.perf_counter()
                try:
                    found = search.search(conn, query, None, 20).hits
                except ListfedError as exc:
                    hits[query] = f"error: {exc}"
                    continue
                took = 1000 * (time.perf_counter() - started)
                if rnd == 0:
                    first[query], hits[query] = took, len(found)
                else:
                    times[query].append(took)
    finally:
        conn.close()
    every = [t for ts in times.values() for t in ts]
    if not every:
        raise StepFailed("no query could be run: " + "; ".join(map(str, hits.values())))
    fig.search_median_ms = median(every)
    fig.search_p95_ms = percentile(every, 95)
    fig.search_max_ms = max(every)
    fig.search_first_median_ms = median(list(first.values()))
    for what, query in QUERIES:
        ts = times[query]
        fig.per_query.append(
            {
                "what": what,
                "query": query,
                "hits": hits.get(query, 0),
                "first_ms": round(first.get(query, 0.0), 2),
                "median_ms": round(median(ts), 2) if ts else None,
                "max_ms": round(max(ts), 2) if ts else None,
            }
        )
    failed = [q for q, h in hits.items() if isinstance(h, str)]
    if failed:
        fig.notes.append(f"{len(failed)} quer(y/ies) failed: " + "; ".join(map(str, failed)))


def measure_cli(config: Path, fig: Figures, runs: int) -> None:
    fig.cli_runs_ms = _cli_runs(config, CLI_QUERY, runs)
    fig.cli_median_ms = median(fig.cli_runs_ms)
    fig.cli_max_ms = max(fig.cli_runs_ms)
    fig.cli_rare_runs_ms = _cli_runs(config, CLI_RARE, runs)
    fig.cli_rare_median_ms = median(fig.cli_rare_runs_ms)


def _cli_runs(config: Path, query: str, runs: int) -> list[float]:
    command = [*LISTFED, "--config", str(config), "archive", "search", query]
    # Python keeps compiled bytecode, as after any install, even where the environment
    # says not to write it (PYTHONDONTWRITEBYTECODE): in a folder of our own, so the
    # source tree is not touched
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(config.parent / "pycache")
    times = []
    for i in range(runs + 1):  # the first run compiles and warms the page cache: not counted
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        took = 1000 * (time.perf_counter() - started)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise StepFailed(f"archive search {query!r} exited {proc.returncode}: "
                             f"{proc.stderr[-1000:] or 'no output'}")  # fmt: skip
        if i:
            times.append(round(took, 1))
    return times


def measure_reindex(config: Path, fig: Figures, timeout: float) -> None:
    started = time.perf_counter()
    proc = listfed(config, "archive", "reindex", timeout=timeout)
    fig.reindex_seconds = time.perf_counter() - started
    fig.notes.append(f"reindex: {proc.stdout.strip()}")


def profile_summary(path: Path, top: int = 15) -> None:
    """Where the import's time went, from py-spy's collapsed stacks of all its processes.

    The first process is the command (it reads the mbox and writes the database); the
    processes under it are its workers (parsing, text extraction, compression). Only
    busy samples are kept (no --idle), so shares are of CPU time, not wall time.
    """
    if not path.exists():
        print(f"   no profile at {path}")
        return
    total = 0
    roles: Counter[str] = Counter()
    own: dict[str, Counter[str]] = {}
    package: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        depth = 0
        while depth < len(frames) and frames[depth].startswith("process "):
            depth += 1
        funcs = [_short(f) for f in frames[depth + 1 :]]  # after the "thread (...)" frame
        if not funcs:
            continue
        n = int(count)
        role = "command" if depth <= 1 else "workers"
        total += n
        roles[role] += n
        own.setdefault(role, Counter())[funcs[-1]] += n
        package[_package(funcs[-1])] += n
        for f in set(funcs):
            incl[f] += n
    if not total:
        print(f"   {path}: no samples")
        return
    print(f"\n-- profile of the import: {total:,} samples of busy threads")
    print("   by process: " + ", ".join(f"{r} {100 * n / total:.1f}%" for r, n in roles.items()))
    print(
        "   self time by package: "
        + ", ".join(f"{p} {100 * n / total:.1f}%" for p, n in package.most_common(10))
    )
    for role, counter in own.items():
        print(f"   self (leaf frame), {role}:")
        for f, n in counter.most_common(top):
            print(f"     {100 * n / total:5.1f}%  {f}")
    print("   inclusive (entry and process-pool frames left out):")
    shown = [(f, n) for f, n in incl.most_common() if not any(e in f for e in _SKIP)]
    for f, n in shown[: top * 2]:
        print(f"     {100 * n / total:5.1f}%  {f}")


# -- reporting --------------------------------------------------------------------------


def rows(fig: Figures) -> list[tuple[str, str, str, str]]:
    def yes(ok: bool) -> str:
        return "yes" if ok else "no"

    out = [
        (
            "import rate",
            f"{fig.import_rate:,.0f} messages/s ({fig.messages:,} in {fig.import_seconds:.1f} s)",
            f"≥ {IMPORT_TARGET:,}/s",
            yes(fig.import_rate >= IMPORT_TARGET),
        ),
        (
            "database size",
            f"{fig.db_ratio:.2f}× the mbox ({fig.db_bytes / 1e6:,.1f} MB vs "
            f"{fig.mbox_bytes / 1e6:,.1f} MB)",
            f"≤ {SIZE_TARGET}×",
            yes(fig.db_ratio <= SIZE_TARGET),
        ),
        (
            "search in-process",
            f"median {fig.search_median_ms:.1f} ms, p95 {fig.search_p95_ms:.1f} ms "
            f"(max {fig.search_max_ms:.1f})",
            f"p95 ≤ {SEARCH_TARGET_MS:.0f} ms",
            yes(fig.search_p95_ms <= SEARCH_TARGET_MS),
        ),
        (
            "CLI search",
            f"median {fig.cli_median_ms:.0f} ms, max {fig.cli_max_ms:.0f} ms "
            f"(`{CLI_QUERY}`; `{CLI_RARE}`: median {fig.cli_rare_median_ms:.0f} ms)",
            f"≤ {CLI_TARGET_MS:.0f} ms",
            yes(fig.cli_median_ms <= CLI_TARGET_MS),
        ),
    ]
    measured = (
        fig.import_seconds > 0,
        fig.db_bytes > 0,
        bool(fig.per_query),
        bool(fig.cli_runs_ms),
    )
    out = [row if ok else (row[0], "not measured", row[2], "–") for row, ok in zip(out, measured)]
    if fig.reindex_seconds is not None:
        rate = fig.messages / max(fig.reindex_seconds, 1e-9)
        out.append(("reindex", f"{fig.reindex_seconds:.1f} s ({rate:,.0f} messages/s)", "–", "–"))
    return out


def report(fig: Figures, rounds: int) -> None:
    print(f"\n== import: {fig.import_output}")
    print(
        f"   {fig.import_seconds:.1f} s wall, {fig.import_cpu_seconds:.1f} s CPU in the command "
        f"and its workers ({fig.import_cpu_seconds / max(fig.import_seconds, 1e-9):.2f} cores), "
        f"peak RSS {fig.import_peak_rss_mb:.0f} MB (largest process); other processes "
        f"{fig.import_other_cpu_seconds:.1f} CPU s meanwhile"
    )
    print(
        f"   machine speed: fixed loop {fig.calibration_ms[0]:.0f} ms before, "
        f"{fig.calibration_ms[1]:.0f} ms after (lower is faster)"
    )
    print(f"\n== database: {fig.db_bytes / 1e6:,.1f} MB = {fig.db_ratio:.2f}× the mbox")
    tables = {k: v for k, v in fig.db_breakdown.items() if not k.startswith("(")}
    rest = [v for v in tables.values() if v < fig.db_bytes / 1000]
    for name, size in tables.items():
        if size >= fig.db_bytes / 1000:
            print(f"   {name:32s} {size / 1e6:10,.1f} MB {100 * size / fig.db_bytes:5.1f}%")
    print(f"   ({len(rest)} others, each < 0.1%)     {sum(rest) / 1e6:10,.1f} MB")
    contents = {k: v for k, v in fig.db_breakdown.items() if k.startswith("(")}
    print(
        f"   in the archive's {contents.get('(archive rows)', 0):,} rows: raw messages "
        f"{contents.get('(archive.raw, compressed)', 0) / 1e6:,.1f} MB compressed (from "
        f"{contents.get('(archive.raw, uncompressed)', 0) / 1e6:,.1f} MB), body_text "
        f"{contents.get('(archive.body_text)', 0) / 1e6:,.1f} MB, other text columns "
        f"{contents.get('(archive: other text columns)', 0) / 1e6:,.1f} MB"
    )
    print(f"\n== search in-process: {len(QUERIES)} queries × {rounds} runs after one warm-up, ms")
    print(f"   {'what':26s} {'hits':>5s} {'first':>7s} {'median':>7s} {'max':>7s}  query")
    for q in fig.per_query:
        hits = q["hits"]
        if isinstance(hits, str):
            print(f"   {q['what']:26s} {hits}  {q['query']}")
            continue
        print(
            f"   {q['what']:26s} {hits:>5} {q['first_ms']:>7.1f} {q['median_ms']:>7.1f} "
            f"{q['max_ms']:>7.1f}  {q['query']}"
        )
    print(
        f"   all runs: median {fig.search_median_ms:.1f}, p95 {fig.search_p95_ms:.1f}, "
        f"max {fig.search_max_ms:.1f}; first runs median {fig.search_first_median_ms:.1f}"
    )
    print(
        f"\n== `listfed archive search {CLI_QUERY}`, {len(fig.cli_runs_ms)} runs, ms: "
        + ", ".join(f"{t:.0f}" for t in fig.cli_runs_ms)
    )
    print(
        f"   `listfed archive search {CLI_RARE}` (a rare word: start-up and imports, mostly): "
        + ", ".join(f"{t:.0f}" for t in fig.cli_rare_runs_ms)
        + f"; median {fig.cli_rare_median_ms:.0f}"
    )
    print(f"   other processes used {fig.search_other_cpu_seconds:.1f} CPU s during the searches")
    if fig.reindex_seconds is not None:
        print(f"\n== reindex: {fig.reindex_seconds:.1f} s")
    print("\n| figure | result | target | reached |\n|---|---|---|---|")
    for row in rows(fig):
        print("| " + " | ".join(row) + " |")
    for note in fig.notes:
        print(f"note: {note}")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=100_000, metavar="N")
    ap.add_argument("--quick", action="store_true", help="5,000 messages (a smoke run)")
    ap.add_argument(
        "--mbox",
        type=Path,
        help="use this mbox if it exists (its own message count), else write it there and keep it",
    )
    ap.add_argument("--seed", type=int, default=1, help="mboxgen's seed")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="make the node in DIR and keep it")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--rounds", type=int, default=5, help="runs of each query after a warm-up")
    ap.add_argument("--cli-runs", type=int, default=10, help="runs of `listfed archive search`")
    ap.add_argument("--reindex", action="store_true", help="also time `archive reindex`")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds for import/reindex")
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the import under py-spy (all processes) and print where its time goes; "
        "the import is slower then",
    )
    ap.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        metavar="S",
        help="before the import, wait up to S seconds for other processes to leave the "
        "CPU alone (0: don't wait); default 120",
    )
    args = ap.parse_args()
    from listfed.errors import ListfedError

    check_queries()
    count = 5_000 if args.quick else args.messages

    info = machine()
    info["git"] = git_revision()
    info["listfed"] = " ".join(LISTFED)
    print("listfed archive benchmark" + (" (--quick)" if args.quick else ""))
    for k, v in info.items():
        print(f"  {k:11s} {v}")
    if args.profile:
        print("  NOTE: py-spy samples the import: its rate is lower than unprofiled")

    if args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            print(f"--keep {args.keep}: not empty", file=sys.stderr)
            return 2
        args.keep.mkdir(parents=True, exist_ok=True)
        workdir = args.keep
    else:
        workdir = Path(tempfile.mkdtemp(prefix="listfed-bench-archive-"))
    fig = Figures()
    ok = False
    try:
        mbox = args.mbox or workdir / "archive.mbox"
        if mbox.exists():
            fig.messages = count_entries(mbox)
            print(f".. using {mbox}: {fig.messages:,} messages")
        else:
            make_mbox(mbox, count, args.seed)
            fig.messages = count
        fig.mbox_bytes = mbox.stat().st_size
        config = make_node(workdir)
        db = workdir / "var" / "listfed.db"
        if args.quiet_wait > 0:
            print(f".. waiting up to {args.quiet_wait:.0f} s for other processes to go quiet")
            fig.quiet_wait_seconds = asyncio.run(wait_until_quiet([], args.quiet_wait))
            if fig.quiet_wait_seconds < 0:
                fig.notes.append("other processes kept the CPU busy: figures are pessimistic")
        print(f".. importing into {LIST} in {workdir}", flush=True)
        run_import(config, mbox, fig, args.timeout, args.profile, args.rate)
        print(f"   {fig.import_rate:,.0f} messages/s", flush=True)
        if args.profile:
            profile_summary(args.profile / "import.txt")
        measure_size(db, fig)
        print(".. searching", flush=True)
        mark = cpu_mark()
        measure_search(db, fig, args.rounds)
        measure_cli(config, fig, args.cli_runs)
        fig.search_other_cpu_seconds = others_since(mark)
        if args.reindex:
            print(".. reindexing", flush=True)
            measure_reindex(config, fig, args.timeout)
            measure_search(db, Figures(), 1)  # still answers after a rebuild
        ok = True
    except (StepFailed, ListfedError, subprocess.TimeoutExpired, OSError) as exc:
        fig.notes.append(f"STOPPED: {exc}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(fig, args.rounds)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "queries": QUERIES, "completed": ok, "figures": asdict(fig)},
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
