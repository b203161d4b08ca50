"""Documents made before, kept while what they were made from holds, with the entity tag
(RFC 9110) that lets a client ask "has it changed?" and get `304 Not Modified`.

For the Atom feed: feed readers fetch the same few feeds over and over, and a feed
changes only when a post arrives or leaves. The caller names the version a document was
made from (for a feed: the list's row and the Message-IDs of its newest posts, read
through one index) and makes it again only when that has changed. (`archive reindex`,
which rewrites posts' text in place, shows in a kept feed at the next post, or when
serve restarts, as it does after an upgrade.) The tag is the document's
own digest, so it always matches the bytes sent, even when a post came between reading
the version and making the document (that one is just made again next time).

Each web worker keeps its own, at most `most` documents, the least recently used going
first; pages may be made in the thread pool, so the table is behind a lock.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from starlette.requests import Request


class Kept:
    def __init__(self, most: int = 256) -> None:
        self.most = most
        self._lock = threading.Lock()
        self._documents: OrderedDict[Hashable, tuple[Hashable, bytes, str]] = OrderedDict()

    def get(self, key: Hashable, version: Hashable, make: Callable[[], bytes]) -> tuple[bytes, str]:
        """(document, entity tag) for `key` at `version`: the one kept, or made now."""
        with self._lock:
            found = self._documents.get(key)
            if found is not None and found[0] == version:
                self._documents.move_to_end(key)
                return found[1], found[2]
        document = make()  # outside the lock: pages are made side by side
        tag = etag(document)
        with self._lock:
            self._documents[key] = (version, document, tag)
            self._documents.move_to_end(key)
            while len(self._documents) > self.most:
                self._documents.popitem(last=False)
        return document, tag


def etag(document: bytes) -> str:
    return '"' + hashlib.blake2b(document, digest_size=12).hexdigest() + '"'


def unchanged(request: Request, tag: str) -> bool:
    """Whether the client's If-None-Match names `tag` (weakly: W/ prefixes match too)."""
    asked = request.headers.get("if-none-match", "")
    if not asked:
        return False
    names = {name.strip().removeprefix("W/") for name in asked.split(",")}
    return "*" in names or tag in names
