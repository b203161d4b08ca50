"""Asking peers' web faces, all at once, within one deadline (a network search).

The standard library's http.client, each request in a daemon thread of its own: nothing
runs on an event loop, and a peer that never answers holds nothing when the deadline
comes. Then every request still open is cut (its socket shut down) and counts as a
timeout. A peer's answer is untrusted: at most `limit` bytes, only http(s) redirects
to the same host (three at most: a peer cannot send this node to ask another host,
say one on its own network, on its behalf), no proxy from the environment.

Errors, each with the reason shown to the reader:

PeerError            (kind: what a reader sees first)
    timeout          no full answer within the deadline
    refused          nothing listens there (the node is down)
    unreachable      no route, no such host, TLS failed
    rate limited     the peer said 429
    bad answer       not HTTP, not 200, too big, not JSON of the right shape
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, wait
from contextlib import suppress
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}


class PeerError(Exception):
    """Why a peer gave no usable answer: `kind` (see the module) and a detail."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)


class Asking:
    """One GET, bounded by an absolute deadline (time.monotonic) and a size."""

    def __init__(self, url: str, deadline: float, limit: int) -> None:
        self.url = url
        self.deadline = deadline
        self.limit = limit
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._cut = False

    def cut(self) -> None:
        """End the request now, from another thread: its socket is shut down."""
        with self._lock:
            self._cut = True
            if self._socket is not None:
                with suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)

    def run(self) -> bytes:
        """The answer's body, or PeerError."""
        url = self.url
        for _hop in range(MAX_REDIRECTS + 1):
            status, headers, body = self._get(url)
            if status in _REDIRECTS:
                target = urljoin(url, headers.get("location", ""))
                parts = urlsplit(target)
                if parts.scheme not in ("http", "https"):
                    raise PeerError("bad answer", f"a redirect to {parts.scheme or 'nowhere'}:")
                if parts.hostname != urlsplit(self.url).hostname:
                    raise PeerError("bad answer", f"a redirect to another host ({parts.hostname})")
                url = target
                continue
            if status == 429:
                raise PeerError("rate limited", "HTTP 429")
            if status != 200:
                raise PeerError("bad answer", f"HTTP {status}")
            return body
        raise PeerError("bad answer", f"more than {MAX_REDIRECTS} redirects")

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self._cut:
            raise PeerError("timeout")
        return left

    def _get(self, url: str) -> tuple[int, Mapping[str, str], bytes]:
        parts = urlsplit(url)
        host, path = (
            parts.hostname or "",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        )
        try:
            conn: http.client.HTTPConnection
            if parts.scheme == "https":
                context = ssl.create_default_context()
                conn = http.client.HTTPSConnection(
                    host, parts.port, timeout=self._left(), context=context
                )
            else:
                conn = http.client.HTTPConnection(host, parts.port, timeout=self._left())
            conn.connect()
            with self._lock:
                self._socket = conn.sock
            try:
                if self._cut:
                    raise PeerError("timeout")
                headers = {
                    "Accept": "application/json",
                    "User-Agent": "listfed",
                    "Connection": "close",
                }
                conn.request("GET", path, headers=headers)
                with conn.getresponse() as response:
                    return response.status, _lower(response.getheaders()), self._body(response)
            finally:
                conn.close()
                with self._lock:
                    if self._socket is not None:
                        self._socket.close()
                    self._socket = None
        except PeerError:
            raise
        except TimeoutError:
            raise PeerError("timeout") from None
        except ConnectionRefusedError:
            raise PeerError("refused", "nothing listens there") from None
        except ssl.SSLError as exc:
            raise PeerError("unreachable", f"TLS: {exc.reason or exc}") from None
        except http.client.HTTPException as exc:
            raise PeerError("bad answer", f"not HTTP ({type(exc).__name__})") from None
        except OSError as exc:
            if self._cut:
                raise PeerError("timeout") from None
            raise PeerError("unreachable", exc.strerror or type(exc).__name__) from None

    def _body(self, response: http.client.HTTPResponse) -> bytes:
        declared = response.getheader("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            raise PeerError("bad answer", f"{int(declared):,} bytes, more than {self.limit:,}")
        body = bytearray()
        while True:
            if self._socket is not None:
                self._socket.settimeout(self._left())
            chunk = response.read1(65536)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > self.limit:
                raise PeerError("bad answer", f"more than {self.limit:,} bytes")


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


class Round:
    """Each of `urls` (key -> URL) asked at once, from now on; `answers()` waits for them
    `seconds` (a timeout's reason says `said`, the deadline a reader knows, if given)."""

    def __init__(
        self, urls: Mapping[str, str], seconds: float, limit: int, said: float = 0.0
    ) -> None:
        self.seconds = seconds
        self.said = said
        self.deadline = time.monotonic() + seconds
        self._asked = {key: Asking(url, self.deadline, limit) for key, url in urls.items()}
        self._futures: dict[str, Future[bytes]] = {}
        for key, asking in self._asked.items():
            future: Future[bytes] = Future()
            self._futures[key] = future
            thread = threading.Thread(target=_run, args=(asking, future), daemon=True)
            thread.start()

    def answers(self) -> dict[str, bytes | PeerError]:
        """By the deadline: every key with its body, or the PeerError saying why not."""
        wait(self._futures.values(), timeout=max(0.0, self.deadline - time.monotonic()))
        late = PeerError("timeout", f"no answer within {self.said or self.seconds:g} s")
        found: dict[str, bytes | PeerError] = {}
        for key, future in self._futures.items():
            if not future.done():
                self._asked[key].cut()
                found[key] = late
                continue
            error = future.exception()
            if isinstance(error, PeerError):
                found[key] = late if error.kind == "timeout" else error
            else:
                found[key] = future.result()
        return found


def _run(asking: Asking, future: Future[bytes]) -> None:
    try:
        future.set_result(asking.run())
    except PeerError as exc:
        future.set_exception(exc)
    except Exception as exc:  # a bug must still answer the waiting search
        future.set_exception(PeerError("bad answer", f"{type(exc).__name__}"))
