#!/usr/bin/env python3
"""What one-click unsubscribe costs (issue 17): shape A of bench/fanout.py (1,000 members
x 200 posts, one client) four ways in one run, interleaved, on the same responder:

  shared         no base_url: many recipients per transaction, one copy for all
  oneclick       base_url set: each member's copy has its own List-Unsubscribe URL,
                 so one transaction per member
  shared+dkim    DKIM signing (2048-bit key) and ARC on: one signature per post
  oneclick+dkim  one DKIM signature per copy; the ARC set made once per post

    python bench/oneclick.py               # full sizes, each variant once
    python bench/oneclick.py --quick       # 100 members x 20 posts, a smoke run
    python bench/oneclick.py --repeat 2    # each variant twice, interleaved; medians
    python bench/oneclick.py --only oneclick+dkim \
        --listfed "before=env PYTHONPATH=/tmp/old python -m listfed" --listfed after=listfed
                                           # two builds alternating, run by run

The smarthost (fanout.py's Responder) offers PIPELINING and CHUNKING, as Postfix does;
`--no-chunking` measures the copies without BDAT (one round trip each).

It prints recipients/s and the daemon's CPU per recipient for each, and each as a ratio
to `shared` from the same run; after each run, also the harness's CPU per recipient (its
responder is the smarthost) and how many cores other processes used meanwhile. Loopback
only; every wait is bounded.
"""

# The harness blocks its own loop only outside the measured window (setup):
# ruff: noqa: ASYNC240

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from fanout import LISTFED, QUICK, SHAPES, Responder, Result, git_commit, machine, run_shape

BASE = 'base_url = "https://lists.example.org"\n'
NAMES = ("shared", "oneclick", "shared+dkim", "oneclick+dkim")


def configs(key: Path) -> dict[str, str]:
    dkim = f'[dkim]\nprivate_key = "file:{key}"\nselector = "bench"\narc = true\n'
    return dict(zip(NAMES, ("", BASE, dkim, BASE + dkim), strict=True))


def make_key(folder: Path) -> Path:
    key = folder / "dkim.pem"
    with key.open("wb") as out:
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            stdout=out,
            stderr=subprocess.DEVNULL,  # its progress dots
            check=True,
            timeout=60,
        )
    return key


def cpu_ms_per_recipient(r: Result) -> float:
    return 1000 * r.daemon_cpu_s / max(1, r.delivered_recipients)


async def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="100 members x 20 posts")
    ap.add_argument("--repeat", type=int, default=1, metavar="N")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--quiet-wait", type=float, default=60.0, metavar="S")
    ap.add_argument("--only", choices=NAMES, help="measure this variant alone")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="py-spy on the daemon")
    ap.add_argument(
        "--no-chunking",
        action="store_true",
        help="the smarthost offers no CHUNKING (RFC 3030): BDAT is Postfix's default",
    )
    ap.add_argument(
        "--listfed",
        action="append",
        metavar="LABEL=CMD",
        help="a command that runs listfed (another checkout, say); given more than once, "
        "the builds alternate run by run and each row is VARIANT@LABEL",
    )
    args = ap.parse_args()
    builds = {"": list(LISTFED)}
    if args.listfed:
        builds = {}
        for given in args.listfed:
            label, _, command = given.partition("=")
            builds[label] = shlex.split(command)
    sizes = QUICK["A"] if args.quick else SHAPES["A"]
    print("listfed: what one-click unsubscribe costs (shape A)")
    commit, dirty = git_commit(Path(__file__).resolve().parent.parent / "listfed")
    for k, v in {**machine(), "git": commit + (" (with changes)" if dirty else "")}.items():
        print(f"  {k:11s} {v}")
    print(f"  smarthost   PIPELINING{'' if args.no_chunking else ', CHUNKING'}")
    folder = Path(tempfile.mkdtemp(prefix="listfed-oneclick-"))
    chosen = configs(make_key(folder))
    responder = Responder(chunking=not args.no_chunking)
    await responder.start()
    rows = [(name, label) for name in ([args.only] if args.only else NAMES) for label in builds]
    runs: dict[str, list[Result]] = {_row(*row): [] for row in rows}
    for label, command in builds.items():
        print(f"  listfed{'@' + label if label else ''}: {' '.join(command)}")
    try:
        for i in range(max(1, args.repeat)):
            for name, label in rows:
                LISTFED[:] = builds[label]
                print(f".. {_row(name, label)} (run {i + 1})", flush=True)
                r = await run_shape(
                    "A",
                    sizes,
                    responder,
                    args.timeout,
                    False,
                    args.profile,
                    200,
                    args.quiet_wait,
                    chosen[name],
                )
                for note in r.notes:
                    print(f"   note: {note.splitlines()[0]}")
                runs[_row(name, label)].append(r)
                print(
                    f"   {r.recipients_per_s:,.0f} recipients/s, daemon "
                    f"{cpu_ms_per_recipient(r):.3f} CPU ms/rcpt, harness "
                    f"{1000 * r.bench_cpu_s / max(1, r.delivered_recipients):.3f}, other "
                    f"processes {r.other_cpu_s / max(r.seconds, 1e-9):.2f} cores",
                    flush=True,
                )
    finally:
        await responder.stop()
        shutil.rmtree(folder, ignore_errors=True)  # the signing key made for this run
    members, posts, _ = sizes
    print(f"\n{members:,} members x {posts:,} posts (median of {args.repeat} run(s) each)")
    print(
        f"{'variant':22s} {'recipients/s':>12s} {'vs shared':>9s} {'CPU ms/rcpt':>11s} "
        f"{'vs shared':>9s} {'transactions':>12s} {'complete':>8s}"
    )
    measured = [name for name in runs if runs[name]]
    base = measured[0]  # "shared" unless --only
    base_rate = statistics.median(r.recipients_per_s for r in runs[base])
    base_cpu = statistics.median(cpu_ms_per_recipient(r) for r in runs[base])
    for name in measured:
        rate = statistics.median(r.recipients_per_s for r in runs[name])
        cpu = statistics.median(cpu_ms_per_recipient(r) for r in runs[name])
        envelopes = statistics.median(r.envelopes for r in runs[name])
        complete = all(
            r.finished and r.delivered_recipients == r.expected_recipients for r in runs[name]
        )
        print(
            f"{name:22s} {rate:12,.0f} {rate / base_rate:9.2f} {cpu:11.3f} "
            f"{cpu / base_cpu:9.2f} {envelopes:12,.0f} {'yes' if complete else 'NO':>8s}"
        )
    return 0


def _row(name: str, label: str) -> str:
    return f"{name}@{label}" if label else name


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
