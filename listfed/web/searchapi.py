"""GET /search.json?q=Q[&limit=N]: this node's public search results as JSON, for other
nodes' network searches (the format: archive/network.py and the README). Public lists
only, whoever asks; a malformed query is a 400 and too many searches from one client
a 429, each with {"error": reason}."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import JSONResponse

from listfed.archive import network
from listfed.archive.query import QueryError
from listfed.ops import netsearch
from listfed.web.forms import client_of
from listfed.web.site import Site, site_of


def too_many(site: Site, request: Request) -> float:
    """0 when this client may search the network now, else the seconds to wait."""
    return site.searches.wait(client_of(request), site.clock())


def refusal(status: int, reason: str, wait: float = 0) -> JSONResponse:
    headers = {"Retry-After": str(math.ceil(wait))} if wait else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def answer(request: Request) -> JSONResponse:
    site = site_of(request)
    wait = too_many(site, request)
    if wait:
        return refusal(429, f"too many searches: at most {site.searches.rate} a minute", wait)
    query = request.query_params.get("q", "").strip()
    if not query:
        return refusal(400, "no query: give q=WORDS")
    try:
        limit = min(max(1, int(request.query_params.get("limit", "20"))), network.MAX_HITS)
    except ValueError:
        return refusal(400, "limit: expected a number")
    with site.reading() as conn:
        try:
            found = netsearch.public_hits(conn, query, limit, site.ranked())
        except QueryError as exc:
            return refusal(400, str(exc))
    node = site.network.node if site.network else ""
    return JSONResponse(
        network.answer(node, query, found.hits, found.window, netsearch.author),
        headers={"Cache-Control": "no-store"},
    )
