"""How much one message to many recipients costs at intake (issue 22).

A real node on loopback takes one message for `--rcpts` recipients (lists' posting
addresses first, then confirmation addresses, which are always valid and cheap for the
robots), sent in transactions of at most `--per-transaction` recipients as a client
does after a `452`. The pipeline is paused meanwhile so that the growth of the database
is intake's alone; then it drains. Prints the machine, the commit, the database growth,
the time to 250, the drain time and the longest intake log line.

    .venv/bin/python bench/recipients.py --size 1MB --rcpts 200
    .venv/bin/python bench/recipients.py --size 4KB --rcpts 10000
    PYTHONPATH=/path/to/older/checkout .venv/bin/python bench/recipients.py ...  # before
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosmtplib
from fanout import machine
from sqlalchemy import text

import listfed
from listfed.config import load_config
from listfed.listinfo import Policy
from listfed.ops import lists
from listfed.ops.node import prepare
from listfed.service import Node
from listfed.units import parse_size

DOMAIN = "lists.example.org"


class Longest(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.longest = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.longest = max(self.longest, len(record.getMessage()))


def message(size: int) -> bytes:
    head = (
        b"From: Ada <ada@example.net>\r\nSubject: many recipients\r\n"
        b"Message-ID: <bench@example.net>\r\nAuto-Submitted: auto-generated\r\n\r\n"
    )
    line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def db_bytes(node: Node) -> int:
    with node.db.read() as s:
        conn = s.connection()
        pages = conn.execute(text("PRAGMA page_count")).scalar() or 0
        size = conn.execute(text("PRAGMA page_size")).scalar() or 0
    return int(pages) * int(size)


def queued(node: Node) -> int:
    with node.db.read() as s:
        return int(s.connection().execute(text("SELECT COUNT(*) FROM queue")).scalar() or 0)


async def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    (root / "listfed.toml").write_text(
        f'[node]\nname = "bench.example.org"\ndomains = ["{DOMAIN}"]\ndata_dir = "var"\n'
        '[smtp]\nlisten = "127.0.0.1:0"\nmax_message_size = "20MB"\n'
        '[delivery]\nsmarthost = "maildir:var/outbox"\n'
    )
    config = load_config(root / "listfed.toml", {}, root)
    prepare(config)
    node = Node(config)
    host, port = await node.start()
    count = min(args.lists, args.rcpts)
    with node.db.write() as s:
        for n in range(count):
            lists.create(s, f"l{n}@{DOMAIN}", config.node.domains, Policy.OPEN)
    rcpts = [f"l{n}@{DOMAIN}" for n in range(count)]
    rcpts += [f"l{n % count}-confirm+c{n}@{DOMAIN}" for n in range(count, args.rcpts)]
    raw = message(parse_size(args.size))
    longest = Longest()
    logging.getLogger("listfed").addHandler(longest)
    logging.getLogger("listfed").setLevel(logging.INFO)
    node.dispatcher.process_due = lambda *_a, **_k: 0  # type: ignore[method-assign]
    before = db_bytes(node)
    refused = 0
    start = time.perf_counter()
    for at in range(0, len(rcpts), args.per_transaction):
        errors, _ = await aiosmtplib.send(
            raw,
            sender="ada@example.net",
            recipients=rcpts[at : at + args.per_transaction],
            hostname=host,
            port=port,
            start_tls=False,
            timeout=600,
        )
        refused += len(errors)
    intake = time.perf_counter() - start
    growth = db_bytes(node) - before
    items = queued(node)
    del node.dispatcher.process_due
    start = time.perf_counter()
    while queued(node):
        node.dispatcher.wake.set()
        await asyncio.sleep(0.05)
    drain = time.perf_counter() - start
    await node.stop(grace=10)
    return {
        "size": len(raw),
        "rcpts": len(rcpts),
        "refused": refused,
        "items": items,
        "growth": growth,
        "intake": intake,
        "drain": drain,
        "longest_log_line": longest.longest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", default="1MB", help="the message's size")
    parser.add_argument("--rcpts", type=int, default=200)
    parser.add_argument("--lists", type=int, default=100, help="lists posted to")
    parser.add_argument("--per-transaction", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"listfed: {Path(listfed.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        got = asyncio.run(run(args, Path(tmp)))
    mb = 1024 * 1024
    print(
        f"{got['size'] / 1024:.0f} KB message to {got['rcpts']} recipients "
        f"({got['refused']} refused), {got['items']} queue items\n"
        f"  database growth at intake: {got['growth'] / mb:.2f} MB "
        f"({got['growth'] / got['size']:.1f}x the message)\n"
        f"  intake (all transactions to 250): {got['intake']:.2f} s\n"
        f"  pipeline drain: {got['drain']:.2f} s\n"
        f"  longest log line: {got['longest_log_line']} characters"
    )
    return 0 if got["items"] else 1


if __name__ == "__main__":
    sys.exit(main())
