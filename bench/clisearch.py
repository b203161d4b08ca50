"""`listfed archive search WORD` from the shell on a node that already exists (bench/cli.py
--node): median, p95 and least wall time, median CPU (user + system), and how busy the
rest of the machine was meanwhile.

Each way of running listfed (a checkout as `python -m listfed`, or an installed command
such as a venv's `bin/listfed`) searches for each word in turn, one run of each not
counted (bytecode, page cache, and the config cache of listfed/configcache.py), then
`runs` rounds, the ways in turn, so that a busy moment falls on each alike. The node is
only read: searches open its database read-only.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

TARGET_MS = 50.0


class Way(NamedTuple):
    label: str
    command: list[str]  # what runs listfed; `--config FILE archive search WORD` follows
    env: dict[str, str]


class Sample(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the child


def way_of_exe(text: str, base_env: dict[str, str], label: str) -> Way:
    """An installed command, as a shell reads it: leading NAME=VALUE words are its
    environment ("XDG_CACHE_HOME=/dev/null/x /venv/bin/listfed": no config cache)."""
    words = shlex.split(text)
    env = dict(base_env)
    while words and "=" in words[0] and not words[0].startswith("/"):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if not words:
        raise SystemExit(f"--exe {text!r}: no command")
    return Way(label, words, env)


def once(command: list[str], env: dict[str, str], cwd: Path) -> Sample:
    """One run, its output thrown away; fails loudly on an exit status other than 0."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            said = errors.read().decode(errors="replace")[-800:]
            raise SystemExit(f"{shlex.join(command)} exited {child.returncode}: {said}")
    return Sample(wall, usage.ru_utime + usage.ru_stime)


def busy_ticks() -> int:
    """Clock ticks every CPU of the machine spent busy (not idle, not waiting for I/O)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def measure(
    ways: list[Way], words: list[str], config: str, node: Path, runs: int, say: Callable[..., None]
) -> dict[str, dict[str, dict[str, float]]]:
    """Run and print the table; the figures by word, then way."""
    figures: dict[str, dict[str, dict[str, float]]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    say(f"\n  {'word':12s} {'way':44s} {'median':>7s} {'p95':>7s} {'least':>7s} {'CPU':>6s}")
    for word in words:
        commands = [[*way.command, "--config", config, "archive", "search", word] for way in ways]
        for way, command in zip(ways, commands, strict=True):
            once(command, way.env, node)
        samples: list[list[Sample]] = [[] for _ in ways]
        load = os.getloadavg()
        ticks, started = busy_ticks(), time.monotonic()
        for _round in range(runs):
            for n, (way, command) in enumerate(zip(ways, commands, strict=True)):
                samples[n].append(once(command, way.env, node))
        elapsed = time.monotonic() - started
        ours = sum(s.cpu for taken in samples for s in taken)
        others = max(0.0, (busy_ticks() - ticks) / tick - ours) / elapsed
        figures[word] = {}
        for way, taken in zip(ways, samples, strict=True):
            walls = sorted(1000 * s.wall for s in taken)
            row = {
                "median_ms": round(statistics.median(walls), 1),
                "p95_ms": round(walls[max(0, -(-95 * len(walls) // 100) - 1)], 1),
                "least_ms": round(walls[0], 1),
                "cpu_ms": round(1000 * statistics.median(s.cpu for s in taken), 1),
            }
            figures[word][way.label] = row
            mark = "*" if row["median_ms"] > TARGET_MS else " "
            say(
                f"  {word[:12]:12s} {way.label[-44:]:44s} {row['median_ms']:7.1f} "
                f"{row['p95_ms']:7.1f} {row['least_ms']:7.1f} {row['cpu_ms']:6.1f}{mark}"
            )
        figures[word]["machine"] = {
            "others_cores": round(others, 2),
            "loadavg_before": round(load[0], 2),
            "loadavg_after": round(os.getloadavg()[0], 2),
        }
        say(
            f"  {'':12s} (other processes: {others:.2f} cores busy on average; load average "
            f"{load[0]:.2f} -> {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    say(f"\n  ms; * median over {TARGET_MS:.0f} ms wall. {runs} runs of each, in turn.")
    return figures
