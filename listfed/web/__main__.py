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
from listfed.web.balance import Acceptor, Board


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
    parser.add_argument(
        "--board-fd", type=int, default=None, help="the workers' shared board (web/balance.py)"
    )
    parser.add_argument("--slot", type=int, default=0, help="this worker's slot on the board")
    parser.add_argument("--slots", type=int, default=1, help="the workers sharing the socket")
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
    if args.board_fd is None or args.slots < 2:
        asyncio.run(server.serve(sockets=[sock]))
    else:
        asyncio.run(_balanced(server, sock, Board(args.board_fd, args.slot, args.slots)))


async def _balanced(server: uvicorn.Server, sock: socket.socket, board: Board) -> None:
    """uvicorn serving the connections this worker takes from the shared socket (see
    web/balance.py), not every connection waiting there."""
    serving = asyncio.ensure_future(server.serve(sockets=[]))
    # uvicorn says it has started by a flag only; it sets it or ends within moments
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    if serving.done():
        await serving  # it could not start: say why
        return
    config = server.config

    def protocol() -> asyncio.Protocol:  # as uvicorn makes one for its own listeners
        made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=server.server_state, app_state=server.lifespan.state
        )
        return made

    acceptor = Acceptor(
        sock,
        board,
        protocol,
        held=lambda: len(server.server_state.connections),
        ending=lambda: server.should_exit,
    )
    acceptor.start()
    try:
        await serving
    finally:
        acceptor.stop()


if __name__ == "__main__":
    main()
