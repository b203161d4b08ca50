"""What a bridge costs per message, on the pipeline's database thread: deciding whether
mail is a post of the foreign list (bridges/foreign.py), fingerprinting a copy as it
goes out, and checking an arrival against a fingerprint (bridges/fingerprint.py).

    python bench/bridges.py [--messages 2000] [--size 3000]

No network, no database: the CPU cost of each step, median per message, and the
machine it ran on. (The IMAP bridge's latency is Dovecot's IDLE notice, about 0.5 s
from APPEND to the post being queued in tests/test_bridge_imap.py; not measured here.)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fanout import git_commit, machine, make_message

from listfed.bridges import fingerprint, foreign

FOREIGN = "atl-coc@groups.example"


def as_foreign(raw: bytes) -> bytes:
    """A message as the foreign list sends it back: prefix, list fields, a footer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    head = head.replace(b"Subject: ", b"Subject: [atl-coc] ", 1)
    head += b"\r\nList-Id: <atl-coc.groups.example>\r\nList-Post: <mailto:atl-coc@groups.example>"
    footer = b"\r\n_______________________________________________\r\natl-coc mailing list\r\n"
    return head + b"\r\n\r\n" + body + footer


def per_message(step: Callable[[bytes], object], messages: list[bytes], rounds: int = 3) -> float:
    """Median over `rounds` of the mean time per message, in microseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in messages:
            step(raw)
        times.append((time.perf_counter() - start) / len(messages))
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=3000, help="bytes per message")
    args = parser.parse_args()
    rng = random.Random(1)
    sent = [make_message(n, rng, args.size) for n in range(args.messages)]
    back = [as_foreign(raw) for raw in sent]
    prints = [fingerprint.fingerprint(raw) for raw in sent]
    pairs = dict(zip(back, prints, strict=True))
    assert all(fingerprint.is_echo(fp, raw) for raw, fp in pairs.items())
    figures = {
        "judge (is it the foreign list's post?)": per_message(
            lambda raw: foreign.judge(raw, FOREIGN, "atl-coc-bounces@groups.example"), back
        ),
        "fingerprint (a copy going out)": per_message(fingerprint.fingerprint, sent),
        "lookup key (an arrival)": per_message(fingerprint.lookup_key, back),
        "is_echo (an arrival against one fingerprint)": per_message(
            lambda raw: fingerprint.is_echo(pairs[raw], raw), back
        ),
    }
    commit, dirty = git_commit(Path(__file__).resolve().parent.parent)
    print(json.dumps(machine(), indent=2))
    print(f"git {commit}{' (dirty)' if dirty else ''}, {args.messages} messages of ~{args.size} B")
    for name, micros in figures.items():
        print(f"{name:48} {micros:8.0f} µs per message")


if __name__ == "__main__":
    main()
