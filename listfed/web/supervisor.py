"""The web face as `serve` runs it: child processes (`[web] workers`) on one listening
socket the daemon binds itself, each restarted with a growing pause when it dies, at once
when a reload changes their settings, stopped with the daemon.

Binding here, before any child starts, makes a taken port an error at start that names
the key to change; the children only ever inherit the socket, so a restart never races
another program for the port. Several children share it and a board (web/balance.py)
on which each says how many connections it holds: the one woken for a new connection
takes it only if no other holds fewer, so connections are spread evenly (a socket each
with SO_REUSEPORT left the kernel's hash to place them: 17/33 of fifty, measured). A
connection that comes while a child is down waits for the others, or for it
(FIRST_PAUSE, longer if it keeps dying).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from enum import Enum
from pathlib import Path

from listfed.errors import ListfedError
from listfed.web.balance import board_file

log = logging.getLogger("listfed.web")

FIRST_PAUSE = 0.5  # before the first restart; doubled after each quick death
LONGEST_PAUSE = 30.0
HEALTHY_AFTER = 60.0  # a child that lived this long starts the pauses over
STOP_GRACE = 5.0


class _Why(Enum):
    """Why the supervisor stopped waiting on its child."""

    ENDED = "ended"  # the child died
    STOPPING = "stopping"  # the daemon stops
    RESTART = "restart"  # new settings: a new child, at once


def child_arguments(database: Path, busy_timeout: float, base_url: str) -> list[str]:
    """The child's settings as its command line (`python -m listfed.web`) takes them."""
    return [
        "--database",
        str(database),
        "--busy-timeout",
        str(busy_timeout),
        "--base-url",
        base_url,
    ]


class _Child:
    """One worker's slot: its current process, and its own call to restart."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.restart = asyncio.Event()


class WebFace:
    """The supervised child processes serving the web face on (host, port)."""

    def __init__(
        self,
        host: str,
        port: int,
        database: Path,
        busy_timeout: float,
        base_url: str,
        first_pause: float = FIRST_PAUSE,
        secret_file: Path | None = None,
        config_file: Path | None = None,
        read_settings: object = None,
        workers: int = 1,
    ) -> None:
        self.host, self.port = host, port
        # what the child reads from the config file itself (who may read /metrics, whom a
        # network search asks): a new value restarts it too
        self.read_settings = read_settings
        # fixed for the daemon's life: paths, never the secret itself (`ps` shows args)
        self.fixed: list[str] = []
        if secret_file is not None:
            self.fixed += ["--secret-file", str(secret_file)]
        if config_file is not None:
            self.fixed += ["--config", str(config_file)]
        self.args = child_arguments(database, busy_timeout, base_url) + self.fixed
        self.first_pause = first_pause
        self.children = [_Child() for _ in range(workers)]
        self.sock: socket.socket | None = None  # the listening socket (see bind)
        self.board: int | None = None  # the children's shared board, when several

    def reconfigure(
        self, database: Path, busy_timeout: float, base_url: str, read_settings: object = None
    ) -> bool:
        """Serve with these settings from now on: a running child is replaced at once (the
        socket stays bound, so no request is refused meanwhile). True if they changed."""
        args = child_arguments(database, busy_timeout, base_url) + self.fixed
        if args == self.args and read_settings == self.read_settings:
            return False
        self.args, self.read_settings = args, read_settings
        for child in self.children:
            child.restart.set()
        return True

    def bind(self) -> tuple[str, int]:
        """Listen on the configured address; a ListfedError naming [web] listen if not."""
        try:
            self.sock = _listen(self.host, self.port)
        except OSError as exc:
            self.close()
            raise ListfedError(
                f"cannot listen on {self.host}:{self.port} for the web face: "
                f'{exc.strerror or exc}; change [web] listen ("" turns the web face off)'
            ) from None
        self.host, self.port = self.sock.getsockname()[:2]  # the port found when it is 0
        if len(self.children) > 1:
            self.board = board_file(len(self.children))
        return self.host, self.port

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every child serving until `stop` is set; then end them."""
        assert self.sock is not None, "bind() first"
        keeping = [
            asyncio.ensure_future(self._keep(child, slot, stop))
            for slot, child in enumerate(self.children)
        ]
        try:
            await asyncio.gather(*keeping)
        finally:  # one keeper failing (say, no process could start) ends the others too
            for keeper in keeping:
                keeper.cancel()
            await asyncio.gather(*keeping, return_exceptions=True)
            await asyncio.gather(*(self._end(child) for child in self.children))
            self.close()

    async def _keep(self, child: _Child, slot: int, stop: asyncio.Event) -> None:
        """Keep one child serving until `stop` is set (the caller ends it)."""
        pause = self.first_pause
        while not stop.is_set():
            started = time.monotonic()
            child.restart.clear()  # whatever asked for it, this child has the newest args
            process = child.process = await self._spawn(slot)
            log.info("web face on http://%s:%s/ (pid %s)", self.host, self.port, process.pid)
            why = await self._wait(child, stop)
            if why is _Why.STOPPING:
                break
            if why is _Why.RESTART:
                log.info("web face (pid %s) restarting with new settings", process.pid)
                await self._end(child)
                pause = self.first_pause
                continue
            _release(process)
            lived = time.monotonic() - started
            pause = self.first_pause if lived > HEALTHY_AFTER else pause
            log.warning(
                "web face (pid %s) exited with status %s; restarting in %.1fs",
                process.pid,
                process.returncode,
                pause,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        assert self.sock is not None
        fds = [self.sock.fileno()]
        board: list[str] = []
        if self.board is not None:
            fds.append(self.board)
            board = ["--board-fd", str(self.board), "--slot", str(slot)]
            board += ["--slots", str(len(self.children))]
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "listfed.web",
            "--fd",
            str(fds[0]),
            *board,
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            pass_fds=fds,
        )

    async def _wait(self, child: _Child, stop: asyncio.Event) -> _Why:
        """Wait for the child to end, the daemon to stop or new settings to come."""
        assert child.process is not None
        ended = asyncio.ensure_future(child.process.wait())
        stopping = asyncio.ensure_future(stop.wait())
        restart = asyncio.ensure_future(child.restart.wait())
        waits = {ended, stopping, restart}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        why = _Why.ENDED if ended.done() else _Why.RESTART
        for waiting in waits:
            waiting.cancel()
        return _Why.STOPPING if stop.is_set() else why

    async def _end(self, child: _Child) -> None:
        process, child.process = child.process, None
        if process is None:
            return
        if process.returncode is not None:
            _release(process)
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        _release(process)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.board is not None:
            os.close(self.board)
            self.board = None


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that the children inherit."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _release(process: asyncio.subprocess.Process) -> None:
    """Close our end of a finished child's stdin pipe."""
    if process.stdin is not None:
        process.stdin.close()
