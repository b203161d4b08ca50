"""The SMTP/LMTP session as the node runs it: aiosmtpd's protocol with fair limits.

- at most `total` sessions, and at most `per_client` from one client address, so that
  one host holding many idle connections cannot keep another host's mail out; each
  refusal is a `421` and a log line (at most one a minute per client);
- a command must come within `command_timeout` (RFC 5321 §4.5.3.2: 5 minutes), the
  whole DATA phase end within `data_timeout`, DATA come at `min_data_rate` bytes a
  second at least once 30 s have passed (a client dripping a byte a second is cut off),
  a session last at most `session_timeout`;
- a line of DATA may be long (web mailers write a paragraph as one line): taken, as
  Postfix takes it, not refused for good with 500. Commands keep aiosmtpd's 512 bytes;
  a line over 1 MiB, or a message over the size limit, gets `552 5.3.4` with a reason.

`sessions` is the set of open sessions, so that the daemon can stop gracefully.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("listfed.intake")

LONGEST_LINE = 1 << 20  # bytes of one line in DATA (RFC 5322's 998 binds writers)
LOG_EVERY = 60.0  # seconds between two refusal lines about one client
DATA_GRACE = 30.0  # seconds of DATA before its rate is judged
DATA_CHECK = 5.0  # seconds between two looks at it
ADDRESSES_KEPT = 4096  # MAIL/RCPT arguments whose reading is remembered (~2 MB at most)


TOO_BIG = "552 5.3.4 The message is bigger than this list server takes ([smtp] max_message_size)"
# aiosmtpd's refusals (before any " (" comment) -> ours
REWORDED = {
    "500 Line too long": "552 5.3.4 A line of the message is longer than 1 MiB: "
    "break it into shorter lines",
    "552 Error: Too much mail data": TOO_BIG,
    "552 Error: message size exceeds fixed maximum message size": TOO_BIG,  # MAIL SIZE=
}


@dataclass(frozen=True)
class Limits:
    total: int = 200
    per_client: int = 20
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    session_timeout: float = 1800.0
    min_data_rate: int = 500  # bytes a second during DATA, after DATA_GRACE (Postfix's)


class Refusals:
    """Who was refused, said at most once a minute per client (bounded memory)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.last: dict[str, float] = {}

    def say(self, client: str, why: str) -> None:
        now = self.clock()
        if now - self.last.get(client, -LOG_EVERY) < LOG_EVERY:
            return
        if len(self.last) > 10_000:
            self.last.clear()
        self.last[client] = now
        log.warning("connection from %s refused with 421: %s", client, why)


def session_class(base: type[Any], sessions: set[Any], limits: Limits) -> type[Any]:
    """`base` (aiosmtpd's SMTP or LMTP) with the node's limits; pass `timeout=
    limits.command_timeout` when making one."""
    by_client: Counter[str] = Counter()
    refusals = Refusals()
    addresses: dict[tuple[str, int], tuple[str | None, str | None]] = {}

    class Session(base):  # type: ignore[misc]
        refused = False
        client = ""
        line_length_limit = LONGEST_LINE
        _ends: asyncio.TimerHandle | None = None
        _received = 0  # bytes that came in on this connection

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            peer = transport.get_extra_info("peername")
            self.client = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
            why = ""
            if len(sessions) >= limits.total:
                why = f"{len(sessions)} sessions open, the most [smtp] max_connections allows"
            elif by_client[self.client] >= limits.per_client:
                why = f"{by_client[self.client]} sessions from this client already"
            if why:
                self.refused = True
                refusals.say(self.client, why)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(b"421 4.3.2 Too many connections, try again later\r\n")
                transport.close()
                return
            sessions.add(self)
            by_client[self.client] += 1
            loop = asyncio.get_running_loop()
            self._ends = loop.call_later(limits.session_timeout, self._too_long, transport)
            super().connection_made(transport)

        def _too_long(self, transport: asyncio.BaseTransport) -> None:
            log.warning(
                "session from %s closed: longer than %.0f s", self.client, limits.session_timeout
            )
            transport.close()

        def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
            """aiosmtpd's reading of a MAIL/RCPT argument, remembered: it builds a typing
            Protocol class on every call and runs the email package's address parser,
            about a tenth of the event loop's time when one sender posts back to back.
            The answer depends on the argument and the local-part limit alone."""
            key = (arg, self.local_part_limit)
            found = addresses.get(key)
            if found is None:
                found = super()._getaddr(arg)
                if len(addresses) >= ADDRESSES_KEPT:  # bounded: arguments come from anyone
                    addresses.clear()
                addresses[key] = found
            return found

        async def push(self, status: Any) -> None:
            """aiosmtpd's own refusals, with an enhanced status code and a reason a
            sender understands (RFC 3463)."""
            if isinstance(status, str):
                status = REWORDED.get(status.split(" (", 1)[0], status)
            await super().push(status)

        def data_received(self, data: bytes) -> None:
            self._received += len(data)
            super().data_received(data)

        async def smtp_DATA(self, arg: str) -> None:
            self._reset_timeout(limits.data_timeout)  # the whole DATA phase, not per line
            watch = asyncio.create_task(self._rate(self._received))
            try:
                await super().smtp_DATA(arg)
            finally:
                watch.cancel()

        async def _rate(self, start: int) -> None:
            """Cut off a client that sends DATA slower than limits.min_data_rate (after
            DATA_GRACE seconds): a drip must not hold a session for the whole timeout."""
            began = asyncio.get_running_loop().time()
            while self.transport is not None and limits.min_data_rate > 0:
                await asyncio.sleep(DATA_CHECK)
                spent = asyncio.get_running_loop().time() - began
                if spent >= DATA_GRACE and self._received - start < limits.min_data_rate * spent:
                    log.warning(
                        "session from %s closed: DATA at %.0f bytes/s, under [smtp] "
                        "min_data_rate (%d)",
                        self.client,
                        (self._received - start) / spent,
                        limits.min_data_rate,
                    )
                    self.transport.close()
                    return

        def connection_lost(self, exc: Exception | None) -> None:
            if self.refused:
                return
            if self._ends is not None:
                self._ends.cancel()
            if self in sessions:  # counted once, however often this is called
                sessions.discard(self)
                by_client[self.client] -= 1
                if by_client[self.client] <= 0:
                    del by_client[self.client]
            super().connection_lost(exc)

    return Session
