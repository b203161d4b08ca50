"""A loopback TCP proxy in front of an IMAP server that can cut one answer in the middle,
so that a test knows exactly where a connection dies: `CuttingProxy`.

It passes bytes through unchanged. Once a client sends a command line that `marker`
matches, it passes on only the first `after` bytes of the server's answer to it (with
`after=None`: all of it but the tagged completion line), then stops reading the server,
sets `cut` and holds both connections open until `hang_up()`: the client has part of
the answer and waits for the rest, the server is blocked writing it (when it is bigger
than the sockets' buffers). That happens once; later connections only pass bytes.
A connection the server refuses is closed at once, as a server that is down would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import re


class CuttingProxy:
    """`start()` gives the port to connect to instead of the server's; `close()` at the end."""

    def __init__(self, upstream_port: int, marker: re.Pattern[bytes], after: int | None) -> None:
        self.upstream_port = upstream_port
        self.marker = marker
        self.after = after
        self.cut = asyncio.Event()
        self.passed = 0  # bytes of the cut answer the client got
        self._armed: asyncio.StreamWriter | None = None  # the client whose answer is cut
        self._tag = b""
        self._kept = b""
        self._server: asyncio.Server | None = None
        self._held = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def hang_up(self) -> None:
        """Close the held connections (what the proxy does when its server is gone)."""
        self._held.set()
        for writer in self._writers:
            writer.transport.abort()

    async def close(self) -> None:
        self.hang_up()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.append(up_writer)
        pumps = [
            asyncio.create_task(self._requests(reader, up_writer, writer)),
            asyncio.create_task(self._answers(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        _done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.difference_update(pumps)
        for end in (writer, up_writer):
            end.transport.abort()

    async def _requests(
        self, reader: asyncio.StreamReader, up: asyncio.StreamWriter, client: asyncio.StreamWriter
    ) -> None:
        """Client to server, line by line (a command line is what arms the cut)."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            while line := await reader.readline():
                if self._armed is None and not self.cut.is_set() and self.marker.search(line):
                    self._tag = line.split(b" ", 1)[0]
                    self._armed = client  # before the server can answer: it has not the line yet
                up.write(line)
                await up.drain()

    async def _answers(self, up: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Server to client; the armed answer only up to the cut, then hold."""
        with contextlib.suppress(OSError):
            while data := await up.read(65536):
                if self._armed is writer:
                    data = self._until_cut(data)
                writer.write(data)
                await writer.drain()
                if self.cut.is_set() and self._armed is writer:
                    await self._held.wait()
                    return

    def _until_cut(self, data: bytes) -> bytes:
        """What of `data` the client gets now; sets `cut` when the cut is in it. Without
        `after`, the cut is before the line starting with the command's tag; the last
        bytes of a chunk wait for the next one, in case that line starts across them."""
        if self.after is None:
            data, self._kept = self._kept + data, b""
            ending = b"\r\n" + self._tag + b" "
            if self.passed == 0 and data.startswith(ending[2:]):
                end = 0
            else:
                found = data.find(ending)
                end = found + 2 if found != -1 else -1
            if end != -1:
                self.cut.set()
                data = data[:end]
            else:
                data, self._kept = data[: -len(ending)], data[-len(ending) :]
        elif self.passed + len(data) >= self.after:
            self.cut.set()
            data = data[: self.after - self.passed]
        self.passed += len(data)
        return data
