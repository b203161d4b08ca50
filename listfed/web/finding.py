"""Search (SPEC §6's query language, ranking and snippets): in one list
(`/LIST@DOMAIN/search?q=Q&page=N`) or in every list the visitor may read (`/search?q=Q`),
or in the public lists of the whole network (`/search?q=Q&network=1`: this node and its
peers with a web face, ops/netsearch.py). A malformed query is a 400 page that says what
is wrong; too many network searches from one client a 429 page."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from listfed.archive.query import QueryError
from listfed.archive.search import search
from listfed.ops import netsearch
from listfed.web import searchapi
from listfed.web.site import READABLE, Site, members_lists, readable, site_of

PER_PAGE = 20
MAX_PAGE = 50  # 1,000 hits: past that, a better query


def _page(request: Request) -> int:
    try:
        return min(max(1, int(request.query_params.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def in_list(request: Request) -> Response:
    return _answer(request, request.path_params["address"])


def everywhere(request: Request) -> Response:
    site = site_of(request)
    if request.query_params.get("network") == "1" and site.network and site.network.asked:
        return _network(request, site)
    return _answer(request, None)


def _network(request: Request, site: Site) -> Response:
    query = request.query_params.get("q", "").strip()
    context: dict[str, Any] = {"list": None, "query": query, "network": True, "peers": True}
    if not query:
        return site.page("search.html", **context)
    wait = searchapi.too_many(site, request)
    if wait:
        error = f"Too many searches of the whole network: try again in {wait:.0f} seconds."
        return site.page("search.html", status=429, error=error, **context)
    assert site.network is not None
    if not site.asking.acquire(blocking=False):
        error = "The whole network is being searched by many people at once: try again shortly."
        return site.page("search.html", status=503, error=error, **context)
    try:
        with site.reading() as conn:
            found = netsearch.network_search(
                conn, query, site.network, PER_PAGE, own_root="", ranked=site.ranked()
            )
    except QueryError as exc:
        return site.page("search.html", status=400, error=str(exc), **context)
    finally:
        site.asking.release()
    return site.page("search.html", found=found, **context)


def _answer(request: Request, address: str | None) -> Response:
    site = site_of(request)
    query = request.query_params.get("q", "").strip()
    page = _page(request)
    with site.reading() as conn:
        lst = readable(request, conn, address) if address is not None else None
        context: dict[str, Any] = {
            "list": lst,
            "query": query,
            "page": page,
            "hits": [],
            "more": False,
            "everything": request.query_params.get("all") == "1",
            "window": 0,
            "matches": None,
            "network": False,
            "peers": address is None and bool(site.network and site.network.asked),
        }
        if not query:
            return site.page("search.html", **context)
        try:
            found = search(
                conn,
                query,
                lst.address if lst else None,
                PER_PAGE * page + 1,
                # the lists the visitor may read (one list: that one, as checked), so
                # that list:NAME of a list they may not read is as missing as any other
                visibilities=READABLE,
                also=members_lists(request, conn),
                everything=context["everything"],
                ranked=site.ranked(),
                shown=slice(PER_PAGE * (page - 1), PER_PAGE * page),
            )
        except QueryError as exc:
            return site.page("search.html", status=400, error=str(exc), **context)
    hits, start = found.hits, PER_PAGE * (page - 1)
    context.update(hits=hits[start : start + PER_PAGE], more=len(hits) > start + PER_PAGE)
    context.update(window=found.window, matches=found.matches)
    return site.page("search.html", **context)
