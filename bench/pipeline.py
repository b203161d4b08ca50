#!/usr/bin/env python3
"""CPU per post of the pipeline pass alone (the database thread's work for one accepted
post: read it, judge it, archive it, decorate it, fan it out), in this process, on a
fresh database: no SMTP, no delivery, so the noise of a whole daemon run is left out.

    python bench/pipeline.py [--posts 1000] [--members 10] [--rounds 3] [--shape plain|multipart]

Run it from two checkouts (each with its own venv) to compare versions: it uses only
calls both sides of the layering change have (`ops.node.prepare`, `ops.lists.create`,
`ops.members.add`, the intake worker's `process_due`). It prints the median CPU
microseconds per post over the rounds, the machine, and a fixed-loop calibration taken
before and after (the VM's speed varies from minute to minute: compare runs whose
calibrations agree, or the ratio of CPU to calibration).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fanout import calibrate, git_commit, machine, make_message

from listfed.config import load_config
from listfed.context import node_settings
from listfed.db import queue
from listfed.db.engine import Database
from listfed.db.queue import NewItem
from listfed.listinfo import Policy, Role
from listfed.ops import lists, members
from listfed.ops.node import node_secret, prepare
from listfed.service import database_path

try:  # after the layering change
    from listfed.dispatch import Dispatcher as Worker
except ImportError:  # before it
    from listfed.runner import Runner as Worker  # type: ignore[no-redef]

LIST = "team@lists.example.org"


def multipart(n: int, rng: random.Random) -> bytes:
    """The plain message as text and HTML alternatives: the email package's case."""
    plain = make_message(n, rng)
    head, _, body = plain.partition(b"\r\n\r\n")
    head = head.replace(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit",
        b"Content-Type: multipart/alternative; boundary=alt",
    )
    html = b"<html><body><p>" + body.replace(b"\r\n\r\n", b"</p><p>") + b"</p></body></html>"
    return (
        head
        + b"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
        + b"\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html
        + b"\r\n--alt--\r\n"
    )


def one_round(posts: int, people: int, shape: str, seed: int) -> float:
    """CPU seconds per post of process_due over `posts` queued posts."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "listfed.toml").write_text(
            '[node]\nname = "lists.example.org"\ndomains = ["lists.example.org"]\n'
            'data_dir = "var"\n[delivery]\nsmarthost = "maildir:var/outbox"\n'
        )
        config = load_config(root / "listfed.toml", {}, root)
        prepare(config)
        db = Database(database_path(config), config.storage.busy_timeout)
        rng = random.Random(seed)
        with db.write() as s:
            lst = lists.create(s, LIST, config.node.domains, Policy.OPEN)
            addresses = [f"member{i}@example.net" for i in range(people)]
            members.add(s, LIST, addresses, Role.MEMBER)
            now = time.time()
            for n in range(posts):
                raw = make_message(n, rng) if shape == "plain" else multipart(n, rng)
                item = NewItem(
                    kind="post",
                    list_id=lst.id,
                    rcpt=LIST,
                    mail_from="ada.lovelace@example.org",
                    message_id=f"{n}",
                    received=now,
                )
                queue.insert(s, raw, [item])
        worker = Worker(db, node_settings(config, node_secret(config)), lambda: None)
        start = time.process_time()
        done = 0
        while done < posts:
            taken = worker.process_due()
            if not taken:
                raise SystemExit(f"the pipeline stopped after {done} of {posts} posts")
            done += taken
        cpu = time.process_time() - start
        db.close()
        return cpu / posts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shape", choices=["plain", "multipart"], default="plain")
    args = ap.parse_args()
    commit, dirty = git_commit(Path(__file__).resolve().parent)
    before = calibrate()
    per_post = [
        one_round(args.posts, args.members, args.shape, seed) for seed in range(args.rounds)
    ]
    after = calibrate()
    median = statistics.median(per_post) * 1e6
    print(f"listfed {commit}{' (modified)' if dirty else ''} at {Path(__file__).parent.parent}")
    print(f"machine {machine()}; python {sys.version.split()[0]}")
    print(f"calibration {before:.0f} ms before, {after:.0f} ms after (lower is faster)")
    print(
        f"shape {args.shape}: {args.posts} posts x {args.rounds} rounds, {args.members} members: "
        f"median {median:.0f} CPU us/post "
        f"(rounds: {', '.join(f'{p * 1e6:.0f}' for p in per_post)})"
    )


if __name__ == "__main__":
    main()
