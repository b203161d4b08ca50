"""The web face's process: `python -m listfed.web --fd N --database PATH ...`, started by
`listfed serve` (web/supervisor.py) on a socket it has bound already.

It ends when told to (SIGTERM, SIGINT) and when its parent is gone (its stdin, a pipe
from the parent, reaches end of file), so no orphan keeps the port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import threading
from pathlib import Path

import uvicorn

from listfed.config import load_config
from listfed.context import node_settings
from listfed.ops.netsearch import Network
from listfed.web.app import build


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m listfed.web")
    parser.add_argument("--fd", type=int, required=True, help="a listening socket to serve on")
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--busy-timeout", type=float, default=5.0)
    parser.add_argument("--base-url", default="")
    parser.add_argument(
        "--secret-file", type=Path, default=None, help="the node secret (one-click tokens)"
    )
    parser.add_argument("--config", type=Path, default=None, help="the daemon's config file")
    return parser.parse_args(argv)


NICENESS = 10  # pages wait for mail, not mail for pages (bench/web.py: 5.5x -> 1.8x)


def lower_priority(priority: str) -> None:
    """Give way to mail, before any thread starts (threads inherit it): "idle" runs this
    process only on CPU time nothing else wants (SCHED_IDLE: bench/web.py measured intake's
    p95 at 1.1-1.4 times its figure without web load, against 2.8-2.9 at nice 10); "low"
    (or where SCHED_IDLE is refused) ten steps nicer than the daemon."""
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (OSError, AttributeError):  # not Linux, or a sandbox forbids it
            pass
        else:
            return
    with contextlib.suppress(OSError):  # where a sandbox forbids it, the pages just compete
        os.nice(NICENESS)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    # the daemon's config, found as the daemon found it (same folder, same environment)
    config = load_config(args.config)
    lower_priority(config.web.priority)
    sock = socket.socket(fileno=args.fd)
    secret = args.secret_file.read_text().strip() if args.secret_file else ""
    node = node_settings(config, secret)
    app = build(
        args.database,
        args.busy_timeout,
        args.base_url,
        secret,
        node,
        metrics_from=config.web.metrics_from,
        network=Network(config.node.name, args.base_url, config.peers, config.web.network_deadline),
        search_rate=config.web.search_rate,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, server_header=False, lifespan="off"
        )
    )

    def orphaned() -> None:
        sys.stdin.buffer.read()  # returns at end of file: the parent is gone
        server.should_exit = True

    threading.Thread(target=orphaned, daemon=True).start()
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
