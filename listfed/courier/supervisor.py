"""The pipeline's process as `serve` runs it (`[node] processes = 2`): one child that
runs the pipeline pass and delivery beside the daemon, so that they take another core
than SMTP intake, which commits to a file of its own meanwhile (db/intakefile.py).

The child gets its settings on its stdin (length, then a pickle of the config, the node
secret and the database path: never on its command line, which `ps` shows); every byte
after them is a wake-up: PASS when intake committed mail, WAKE when the housekeeper made
outbox rows due. The child looks once a second too, so a lost byte only delays. It is
restarted with a growing pause when it dies, replaced when a reload brings new
settings, and stopped (SIGTERM: the pass in hand commits, the batches being sent finish
and are recorded) with the daemon. If the daemon dies without stopping it, the child
reads end of file and exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import io
import logging
import pickle
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from listfed.config import Config

log = logging.getLogger("listfed.pipeline")

FIRST_PAUSE = 0.5  # before the first restart; doubled after each quick death
LONGEST_PAUSE = 30.0
HEALTHY_AFTER = 60.0  # a child that lived this long starts the pauses over
STOP_GRACE = 15.0  # for the pass and the batches being sent to end; then SIGKILL
WAKE = b"w"  # outbox rows due
PASS = b"p"  # mail committed by intake


def settings_of(config: Config, secret: str, database: Path) -> bytes:
    """What the child reads first on its stdin: an 8-byte length, then the pickle."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    # the config's read-only mappings ([[route]] match, [[bridge]] tables) go as dicts
    # that the child wraps again: pickle cannot take a mappingproxy itself
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _as_dict}
    pickler.dump((config, secret, database))
    data = buffer.getvalue()
    return len(data).to_bytes(8, "big") + data


def _as_dict(mapping: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return read_only, (dict(mapping),)


def read_only(data: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(data)


class PipelineProcess:
    """The supervised child process that runs the pass and delivery (courier/__main__.py)."""

    def __init__(
        self, config: Config, secret: str, database: Path, first_pause: float = FIRST_PAUSE
    ) -> None:
        self.settings = settings_of(config, secret, database)
        self.secret, self.database = secret, database
        self.first_pause = first_pause
        self.process: asyncio.subprocess.Process | None = None
        self.restart = asyncio.Event()

    def wake(self) -> None:
        """Tell the child that outbox rows are due."""
        self._tell(WAKE)

    def wake_pass(self) -> None:
        """Tell the child that intake committed mail."""
        self._tell(PASS)

    def _tell(self, what: bytes) -> None:
        """Never blocks: bytes still unwritten mean the child has a wake-up coming
        already (it also looks once a second)."""
        process = self.process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        transport = process.stdin.transport
        if transport.is_closing() or transport.get_write_buffer_size():
            return
        process.stdin.write(what)

    def reconfigure(self, config: Config) -> None:
        """Work with this config from now on: the running child is stopped (it finishes
        its pass and what it sends) and a new one started."""
        settings = settings_of(config, self.secret, self.database)
        if settings != self.settings:
            self.settings = settings
            self.restart.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep a child working until `stop` is set; then stop it."""
        pause = self.first_pause
        try:
            while not stop.is_set():
                began = time.monotonic()
                self.restart.clear()
                process = self.process = await self._spawn()
                log.info("pipeline process started (pid %s)", process.pid)
                ended = await self._wait(process, stop)
                if stop.is_set():
                    break
                if not ended:  # new settings
                    log.info("pipeline process (pid %s) restarting with new settings", process.pid)
                    await self._end()
                    pause = self.first_pause
                    continue
                pause = self.first_pause if time.monotonic() - began > HEALTHY_AFTER else pause
                log.warning(
                    "pipeline process (pid %s) exited with status %s; restarting in %.1fs",
                    process.pid,
                    process.returncode,
                    pause,
                )
                self._release(process)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, LONGEST_PAUSE)
        finally:
            await self._end()

    async def _spawn(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "listfed.courier", stdin=asyncio.subprocess.PIPE
        )
        assert process.stdin is not None
        process.stdin.write(self.settings)
        with contextlib.suppress(ConnectionError):  # it died at once: run() sees it end
            await process.stdin.drain()
        return process

    async def _wait(self, process: asyncio.subprocess.Process, stop: asyncio.Event) -> bool:
        """Wait for the child to end (True), the daemon to stop or new settings (False)."""
        waits = {
            asyncio.ensure_future(process.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.restart.wait()),
        }
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        return process.returncode is not None

    async def _end(self) -> None:
        """Stop the child: SIGTERM lets it finish its pass and the batches it sends."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except TimeoutError:
                log.error("pipeline process (pid %s) did not stop: killed", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._release(process)

    @staticmethod
    def _release(process: asyncio.subprocess.Process) -> None:
        if process.stdin is not None:
            process.stdin.close()
