"""Where a page is made: a small one on the worker's event loop, a big one in the thread
pool.

Handing a page to starlette's thread pool and back (a thread woken, the loop woken by
its self-pipe, the GIL passed twice) costs about as much CPU as making a post's page:
bench/web.py measured 0.61 against 1.03 CPU-ms a post page, and 2,796 against 1,630
pages/s at 50 clients, for the page made on the loop. So the pages readers ask for most
(a post, a thread, the Atom feed) are made on the loop when what they read is small: at
most `INLINE_BYTES` of stored mail, told by one index probe (microseconds) before the
page. A bigger one (a post with large attachments, a long thread, its mbox) goes to the
pool, so that it never holds up the other connections of its worker for long.

A list the visitor may not read is weighed as nothing: its 404 is made on the loop like
a missing list's, so that the two cannot be told apart by where they were made.

A search is made on the loop when the ranked index (archive/topk) is current and will
answer it (a few milliseconds, a phrase of common words up to about 10); one FTS5 must
answer (a prefix, the index being made, a search of the whole network) goes to the pool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from listfed.web.site import readable, site_of

INLINE_BYTES = 128 * 1024  # of stored mail: a page of that makes in a few milliseconds

Page = Callable[[Request], Response]
Endpoint = Callable[[Request], Awaitable[Response]]
# what a page would read, in bytes of stored mail: (connection, list id, request)
Weigh = Callable[[sqlite3.Connection, int, Request], int]


def when_small(page: Page, weigh: Weigh) -> Endpoint:
    """`page` as an endpoint that runs it on the loop when `weigh` finds it small."""
    return _placed(page, lambda request: small(request, weigh))


def when_ranked(page: Page) -> Endpoint:
    """A search `page` as an endpoint that runs it on the loop when the ranked index is
    current and the query has no prefix (which FTS5 answers: tens of milliseconds)."""
    return _placed(page, ranked_quickly)


def _placed(page: Page, quick: Callable[[Request], bool]) -> Endpoint:
    """`page` on the loop when `quick` says so for the request, else in the pool."""

    async def endpoint(request: Request) -> Response:
        if quick(request):
            return page(request)
        return await run_in_threadpool(page, request)

    endpoint.__name__ = endpoint.__qualname__ = page.__name__
    endpoint.__doc__ = page.__doc__
    return endpoint


def ranked_quickly(request: Request) -> bool:
    query = request.query_params
    if "*" in query.get("q", "") or query.get("network") == "1":
        return False
    site = site_of(request)
    index = site.ranked()
    if index is None:
        return False
    try:
        with site.reading() as conn:
            return index.current(conn)
    except sqlite3.Error:
        return False


def small(request: Request, weigh: Weigh) -> bool:
    """Whether the page of `request` reads at most INLINE_BYTES. A failed probe says no:
    the page then meets the failure in the pool and answers it as it always does."""
    site = site_of(request)
    try:
        with site.reading() as conn:
            lst = readable(request, conn, request.path_params["address"])
            return weigh(conn, lst.id, request) <= INLINE_BYTES
    except HTTPException:  # not a list the visitor may read, or a malformed path: a 404
        return True
    except sqlite3.Error:
        return False
