"""A network search's wire format (GET /search.json on each node's web face) and the
rule that merges the nodes' answers into one list.

An answer is `{"version": 1, "node": NODE, "query": Q, "window": N, "hits": [...]}`,
each hit `{"rank", "list", "message_id", "subject", "from", "date", "snippet"}`: rank is
the hit's 1-based place in that node's best-first list (bm25, then newest), `from` the
author's name or `user at domain`, `date` ISO 8601 UTC. A peer's answer is untrusted:
`read_answer` checks its shape and bounds every field, or raises BadAnswer saying what
is wrong, and strips control characters so nothing reaches a terminal or a page raw.

Merge rule: bm25 scores depend on each archive's own word statistics, so they are not
compared across nodes; places are. Every node's first hit comes before any node's
second, and hits of the same place are newest first (then by the order nodes are
asked: this node, then the peers as configured).
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from listfed.archive.search import Hit

VERSION = 1
MAX_HITS = 100  # in one answer, and what the endpoint gives at most


@functools.lru_cache(maxsize=8192)
def msgid_segment(message_id: str) -> str:
    """A Message-ID as one path segment of a web face's URLs (SPEC §10: without <>,
    percent-encoded). Kept for the last 8,192 asked: a thread page links each of its
    posts twice, and the same pages are asked for again and again."""
    return quote(message_id.strip().strip("<>"), safe="")


def post_path(list_address: str, message_id: str) -> str:
    """A post's page below a web face's root, on this node or a peer's."""
    return f"/{quote(list_address, safe='@')}/m/{msgid_segment(message_id)}"


_FIELD_LIMITS = {"subject": 998, "from": 320, "snippet": 2000}
_ADDRESS = re.compile(r"[^\s@]{1,64}@[A-Za-z0-9.-]{1,253}")
_MESSAGE_ID = re.compile(r"[!-~]{1,998}")
_ISO = "%Y-%m-%dT%H:%M:%SZ"
# C0 and C1 controls and DEL (terminal escapes, bidi tricks need more but show as text)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class BadAnswer(ValueError):
    """A peer's answer that is not a valid search answer; the text says why."""


@dataclass(frozen=True)
class NetHit:
    """One hit of a network search: where it lives and how to reach it."""

    node: str  # the node's name
    rank: int  # its place in that node's answer, from 1
    list: str
    message_id: str
    subject: str
    author: str  # name, or address as `user at domain`
    date: float
    snippet: str
    url: str  # the post's page on its node ("" where the node's address is unknown)


def answer(
    node: str, query: str, hits: Sequence[Hit], window: int, author: Callable[[Hit], str]
) -> dict[str, Any]:
    """The endpoint's JSON for `hits` (best first); `author` shows a hit's author."""
    return {
        "version": VERSION,
        "node": node,
        "query": query,
        "window": window,
        "hits": [
            {
                "rank": place,
                "list": h.list,
                "message_id": h.message_id,
                "subject": h.subject,
                "from": author(h),
                "date": time.strftime(_ISO, time.gmtime(h.date)),
                "snippet": h.snippet,
            }
            for place, h in enumerate(hits[:MAX_HITS], 1)
        ],
    }


def read_answer(data: object, node: str, link: Callable[[str, str], str]) -> list[NetHit]:
    """The hits of a peer's decoded JSON answer, checked; `link(list, message_id)` makes
    each post's URL from what we know of the peer (never from the answer)."""
    if not isinstance(data, dict):
        raise BadAnswer("not a JSON object")
    hits = data.get("hits")
    if not isinstance(hits, list):
        raise BadAnswer("no hits array")
    if len(hits) > MAX_HITS:
        raise BadAnswer(f"{len(hits)} hits, more than {MAX_HITS}")
    return [_hit(h, f"hits[{i}]", i + 1, node, link) for i, h in enumerate(hits)]


def _hit(
    item: object, where: str, place: int, node: str, link: Callable[[str, str], str]
) -> NetHit:
    if not isinstance(item, dict):
        raise BadAnswer(f"{where} is not an object")
    if item.get("rank") != place or isinstance(item.get("rank"), bool):
        raise BadAnswer(f"{where}.rank is not {place}")
    lst, mid = _text(item, "list", where), _text(item, "message_id", where)
    if not _ADDRESS.fullmatch(lst):
        raise BadAnswer(f"{where}.list is not a list address")
    if not _MESSAGE_ID.fullmatch(mid):
        raise BadAnswer(f"{where}.message_id is not a Message-ID")
    try:
        date = float(calendar.timegm(time.strptime(_text(item, "date", where), _ISO)))
    except ValueError:
        raise BadAnswer(f"{where}.date is not YYYY-MM-DDTHH:MM:SSZ") from None
    shown = {name: _text(item, name, where)[:size] for name, size in _FIELD_LIMITS.items()}
    return NetHit(
        node,
        place,
        lst,
        mid,
        shown["subject"],
        shown["from"],
        date,
        shown["snippet"],
        link(lst, mid),
    )


def _text(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise BadAnswer(f"{where}.{name} is not a string")
    return " ".join(_CONTROLS.sub(" ", value).split())


def merge(answers: Sequence[Sequence[NetHit]], limit: int) -> list[NetHit]:
    """The nodes' hits as one list, best first (the module's rule), at most `limit`."""
    order = [(hit.rank, -hit.date, n, hit) for n, hits in enumerate(answers) for hit in hits]
    order.sort(key=lambda item: item[:3])
    return [item[3] for item in order[:limit]]
