"""A stub DNS server on 127.0.0.1 for tests: it answers TXT and MX queries from what the test
configured, stays silent or fails for names it is told to, and says NXDOMAIN otherwise.

It serves UDP and TCP on the same port, in a thread of its own, so that the code under
test uses a real resolver over real sockets (and falls back to TCP for long answers).
"""

from __future__ import annotations

import atexit
import collections
import functools
import selectors
import socket
import struct
import threading
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TXT import TXT

UDP_LIMIT = 512  # without EDNS; a longer answer is truncated and the client retries over TCP


class StubDns:
    """Configure with txt() / timeout() / servfail(); read what arrived in `queries`."""

    def __init__(self) -> None:
        self.port = 0
        self.address = ""
        # lower-case names without the trailing dot -> queries that arrived (UDP or TCP)
        self.queries: collections.Counter[str] = collections.Counter()
        self._records: dict[str, list[tuple[list[bytes], int]]] = {}
        self._mx: dict[str, list[tuple[int, str, int]]] = {}
        self._silent: set[str] = set()
        self._failing: set[str] = set()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._udp, self._tcp = _bind_pair()
        self._thread = threading.Thread(target=self._serve, name="dns-stub", daemon=True)

    def txt(self, name: str, *values: str | list[str], ttl: int = 300) -> None:
        """Add TXT records at `name`; a list is one record of several strings, and a string
        over 255 octets is split as a zone file would need it split."""
        records = [[c for s in _strings(v) for c in _split(s)] for v in values]
        with self._lock:
            self._records.setdefault(_key(name), []).extend((r, ttl) for r in records)

    def drop(self, name: str) -> None:
        """Publish nothing more at `name` (a key taken out of the zone)."""
        with self._lock:
            self._records.pop(_key(name), None)

    def mx(self, name: str, host: str, preference: int = 10, ttl: int = 300) -> None:
        """Add an MX record at `name`."""
        with self._lock:
            self._mx.setdefault(_key(name), []).append((preference, host, ttl))

    def timeout(self, name: str) -> None:
        """Never answer queries for `name`."""
        with self._lock:
            self._silent.add(_key(name))

    def servfail(self, name: str) -> None:
        with self._lock:
            self._failing.add(_key(name))

    def start(self) -> None:
        self.port = self._udp.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._wake_w.send(b"x")
            self._thread.join(1.0)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> StubDns:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in (self._udp, self._tcp, self._wake_r):
                selector.register(sock, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    if key.fileobj is self._udp:
                        self._serve_udp()
                    else:
                        self._serve_tcp()

    def _serve_udp(self) -> None:
        data, peer = self._udp.recvfrom(65535)
        reply = self._answer(data, UDP_LIMIT)
        if reply is not None:
            self._udp.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        conn, _ = self._tcp.accept()
        with conn:
            conn.settimeout(0.5)  # dnspython sends its query at once; never block stop()
            try:
                (length,) = struct.unpack("!H", _read(conn, 2))
                reply = self._answer(_read(conn, length), 65535)
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                pass

    def _answer(self, data: bytes, limit: int) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        name = _key(question.name.to_text())
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        with self._lock:
            self.queries[name] += 1
            if name in self._silent:
                return None
            if name in self._failing:
                response.set_rcode(dns.rcode.SERVFAIL)
            elif name in self._records or name in self._mx:
                if question.rdtype == dns.rdatatype.TXT and name in self._records:
                    response.answer.append(self._rrset(question.name, self._records[name]))
                if question.rdtype == dns.rdatatype.MX and name in self._mx:
                    response.answer.append(_mx_rrset(question.name, self._mx[name]))
            elif not any(known.endswith("." + name) for known in [*self._records, *self._mx]):
                # a name with records below it exists (an empty non-terminal): NOERROR
                response.set_rcode(dns.rcode.NXDOMAIN)
        size = limit if query.edns < 0 else max(limit, query.payload)
        return response.to_wire(max_size=size, prefer_truncation=True)

    @staticmethod
    def _rrset(name: dns.name.Name, records: list[tuple[list[bytes], int]]) -> dns.rrset.RRset:
        rdatas = [TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings) for strings, _ in records]
        return dns.rrset.from_rdata_list(name, min(ttl for _, ttl in records), rdatas)


def _mx_rrset(name: dns.name.Name, records: list[tuple[int, str, int]]) -> dns.rrset.RRset:
    rdatas = [
        MX(dns.rdataclass.IN, dns.rdatatype.MX, preference, dns.name.from_text(host))
        for preference, host, _ in records
    ]
    return dns.rrset.from_rdata_list(name, min(ttl for _, _, ttl in records), rdatas)


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on one port the OS chose (retrying if TCP's is taken)."""
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen()
        return udp, tcp
    raise OSError("no port free for both UDP and TCP")


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client closed the connection")
        data += chunk
    return data


def _strings(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _split(text: str) -> list[bytes]:
    raw = text.encode()
    return [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]


def _key(name: str) -> str:
    return name.lower().rstrip(".")


@functools.cache
def quiet() -> str:
    """The address of one stub, for the whole test run, that knows no names. Nodes in
    tests that are not about DNS use it, so that no test ever asks a real resolver."""
    stub = StubDns()
    stub.start()
    atexit.register(stub.stop)
    return stub.address
