"""Spreading the web face's connections evenly over its workers.

The workers share one listening socket. A worker that is woken for a connection takes
it only if it holds no more connections than the least busy of the others, as each
says on a shared board (a small file every worker maps, a slot each: its count and when
it last wrote); else it lets the connection wait a moment for another worker, and takes
it itself at the third time of asking (a worker that died or hangs holds no one up for
more than a few milliseconds). It takes one connection at a time: asyncio's own accept
takes every connection waiting, which gave one worker all fifty of a benchmark's.

Why: with a socket each (SO_REUSEPORT) the kernel places a connection by a hash of its
addresses, and fifty connections opened at once were split 17/33 to 24/26 between two
workers (bench/RESULTS.md); the clients of the busier worker waited for all its pages,
which set the 95th percentile of every page under load.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import socket
import struct
import time
from collections.abc import Callable

SLOT = struct.Struct("=qd")  # connections held, when written (time.monotonic)
FRESH = 1.0  # seconds: a slot written longer ago is a worker gone or hung, not counted
WAIT = 0.002  # seconds a worker with more connections lets one wait for another
ASKS = 3  # times a connection is offered before the worker woken takes it anyway


def board_file(slots: int) -> int:
    """A new board's file, as a descriptor the workers inherit (one empty slot each)."""
    fd = os.memfd_create("listfed-web-board", 0)  # Linux: memory, gone with the last holder
    os.ftruncate(fd, SLOT.size * slots)
    os.set_inheritable(fd, True)
    return fd


class Board:
    """This worker's view of the board: its own slot to write, the others to read."""

    def __init__(self, fd: int, slot: int, slots: int) -> None:
        self.map = mmap.mmap(fd, SLOT.size * slots)
        self.slot, self.slots = slot, slots

    def put(self, count: int) -> None:
        SLOT.pack_into(self.map, SLOT.size * self.slot, count, time.monotonic())

    def fewest_elsewhere(self) -> int | None:
        """The fewest connections another live worker holds (None: no other is live)."""
        now, fewest = time.monotonic(), None
        for other in range(self.slots):
            if other == self.slot:
                continue
            count, written = SLOT.unpack_from(self.map, SLOT.size * other)
            if now - written <= FRESH:
                fewest = count if fewest is None else min(fewest, count)
        return fewest


class Acceptor:
    """Accepts connections on the shared socket for this worker, by the board's rule."""

    def __init__(
        self,
        sock: socket.socket,
        board: Board,
        protocol: Callable[[], asyncio.Protocol],
        held: Callable[[], int],
        ending: Callable[[], bool] = lambda: False,
    ) -> None:
        self.sock, self.board, self.protocol, self.held = sock, board, protocol, held
        self.ending = ending  # the server is shutting down: take no more
        self.loop = asyncio.get_running_loop()
        self.starting = 0  # accepted, their protocol not yet made (not in `held` yet)
        self.asked = 0  # times the waiting connection was left for another worker
        self.beat: asyncio.TimerHandle | None = None
        self.serving = False
        self.tasks: set[asyncio.Task[None]] = set()  # connections being set up
        sock.setblocking(False)

    def start(self) -> None:
        self.serving = True
        self._listen()
        self._heartbeat()

    def stop(self) -> None:
        self.serving = False
        self.loop.remove_reader(self.sock.fileno())
        if self.beat is not None:
            self.beat.cancel()

    def _listen(self) -> None:
        if self.serving:
            self.loop.add_reader(self.sock.fileno(), self._readable)

    def count(self) -> int:
        return self.held() + self.starting

    def _heartbeat(self) -> None:
        """Say how many this worker holds, also while no connection comes."""
        self.board.put(self.count())
        self.beat = self.loop.call_later(FRESH / 4, self._heartbeat)

    def _readable(self) -> None:
        if self.ending():
            self.stop()  # the others take what comes now
            return
        mine = self.count()
        self.board.put(mine)
        fewest = self.board.fewest_elsewhere()
        if fewest is not None and mine > fewest and self.asked < ASKS - 1:
            self.asked += 1  # another worker holds fewer: let it take this one
            self.loop.remove_reader(self.sock.fileno())
            self.loop.call_later(WAIT, self._listen)
            return
        try:
            conn, _address = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            self.asked = 0  # another worker took it
            return
        except OSError:
            return  # the connection went before it was taken (ECONNABORTED, EMFILE...)
        self.asked = 0
        conn.setblocking(False)
        self.starting += 1
        self.board.put(self.count())
        task = self.loop.create_task(self._serve(conn))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        """The connection to a new protocol (it then counts in `held`)."""
        try:
            await self.loop.connect_accepted_socket(self.protocol, conn)
        except OSError:  # it went as it started: nothing to serve
            conn.close()
        finally:
            self.starting -= 1
