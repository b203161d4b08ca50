"""At most `rate` requests a minute from one client address (GET /search.json and the
network search, each of which costs this node or its peers work), in bounded memory.
Each web face process counts on its own ([web] workers): a search should not write."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

WINDOW = 60.0
MAX_CLIENTS = 10_000  # beyond, the least recently seen client is forgotten


class PerClient:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # pages run in starlette's thread pool

    def wait(self, client: str, now: float) -> float:
        """0 and counted if `client` may go on now; else the seconds until it may."""
        with self._lock:
            times = self._seen.pop(client, None) or deque()
            self._seen[client] = times
            while times and times[0] <= now - WINDOW:
                times.popleft()
            if len(self._seen) > MAX_CLIENTS:
                self._seen.popitem(last=False)
            if len(times) >= self.rate:
                return max(1.0, times[0] + WINDOW - now)
            times.append(now)
            return 0.0
