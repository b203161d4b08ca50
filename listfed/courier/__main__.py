"""The pipeline's process: `python -m listfed.courier`, started by `listfed serve` when
`[node] processes = 2` (courier/supervisor.py), with its settings on stdin.

It runs the same Dispatcher (the pipeline pass and the robots) and Deliverer as a node
of one process, on its own database connections (WAL): intake, in the daemon, commits
each message to a file of its own (db/intakefile.py), which the pass queues from before
each look at the queue, so a sender's `250` never waits for a pass. SIGTERM stops it
the way `serve` stops its workers: the pass in hand commits, the batches being sent
finish and are recorded. End of file on stdin means the daemon is gone without stopping
it: it exits at once, as the workers inside a killed daemon would, leaving what it was
sending to be sent again (the batch in flight).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
from pathlib import Path

from listfed.config import Config
from listfed.context import node_settings
from listfed.courier.build import deliverer
from listfed.courier.supervisor import PASS, WAKE
from listfed.db import intakefile
from listfed.db.engine import Database
from listfed.dispatch import Dispatcher
from listfed.dns import txt_lookup
from listfed.mailauth import prechecks, signer

log = logging.getLogger("listfed.pipeline")

STDIN = 0
# Below intake's priority: when both want the CPU, a sender's 250 comes first and the
# pass catches up with bigger batches (cheaper per post). Measured in shape B on two
# cores: 499-500 posts/s at nice 10 against 402 at 0 (bench/RESULTS.md, "Two processes").
NICE = 10


def _read_exactly(fd: int, size: int) -> bytes:
    """`size` bytes from a pipe, unbuffered: what follows them is the wake-ups' stream."""
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise SystemExit("listfed.courier: the daemon closed the pipe before the settings")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_settings(fd: int = STDIN) -> tuple[Config, str, Path]:
    size = int.from_bytes(_read_exactly(fd, 8), "big")
    config, secret, database = pickle.loads(_read_exactly(fd, size))  # noqa: S301 (our parent's)
    return config, secret, database


async def work(config: Config, secret: str, database: Path, fd: int = STDIN) -> None:
    """Pass and deliver until SIGTERM; wake when the daemon writes a byte (PASS: mail
    queued, WAKE: outbox rows); exit at its end of file."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    db = Database(database, config.storage.busy_timeout)
    node = node_settings(config, secret)
    dnsfunc = txt_lookup(config.dns.nameservers, config.dns.timeout)
    sign = signer(config, dnsfunc)
    sender = deliverer(config, db, lambda: node, sign)
    dispatcher = Dispatcher(
        db,
        node,
        sender.wake.set,
        prechecks=prechecks(config, dnsfunc, sealing=sign is not None and config.dkim.arc),
        intake=intakefile.path_of(database),
    )
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0, closefd=False)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)

    async def woken() -> None:
        while data := await reader.read(4096):
            if PASS in data:
                dispatcher.wake.set()
            if WAKE in data:
                sender.wake.set()
        if not stop.is_set():  # the daemon died: so do the workers inside it
            log.error("pipeline process: the daemon is gone; exiting")
            logging.shutdown()
            os._exit(1)

    listening = asyncio.create_task(woken())
    passing = asyncio.create_task(dispatcher.run(stop))
    try:
        await sender.run(stop)
    finally:
        stop.set()
        await asyncio.gather(passing, return_exceptions=True)
        listening.cancel()
        db.close()


def main() -> None:
    # a terminal's Ctrl-C or hang-up reaches the whole group: the daemon decides
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config, secret, database = read_settings()
    os.nice(NICE)
    asyncio.run(work(config, secret, database))


if __name__ == "__main__":
    main()
