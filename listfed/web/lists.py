"""The node's lists, one list's page, and one month of a list."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from listfed.archive import browse
from listfed.web.site import readable, readable_lists, site_of

NEWEST_THREADS = 30


def index(request: Request) -> Response:
    """`/`: the lists whose archive the visitor may read."""
    site = site_of(request)
    with site.reading() as conn:
        found = readable_lists(request, conn)
    return site.page("index.html", lists=found)


def list_page(request: Request) -> Response:
    """`/LIST@DOMAIN/`: how to join, the newest threads, the months."""
    site = site_of(request)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
        threads = browse.threads(conn, lst.id, NEWEST_THREADS)
        months = browse.months(conn, lst.id)
    return site.page("list.html", list=lst, threads=threads, months=months)


def without_slash(request: Request) -> Response:
    """`/LIST@DOMAIN`: the list page is `/LIST@DOMAIN/` (after the check, so that a
    list nobody may read answers as one that does not exist)."""
    site = site_of(request)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
    return RedirectResponse(f"/{lst.address}/", status_code=301)


def month_page(request: Request) -> Response:
    """`/LIST@DOMAIN/YYYY/MM/`: the threads active that month."""
    site = site_of(request)
    year, month = request.path_params["year"], request.path_params["month"]
    span = month_span(year, month)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
        threads = browse.threads(conn, lst.id, 10_000, span)
    return site.page("month.html", list=lst, threads=threads, year=year, month=month)


def month_span(year: int, month: int) -> tuple[float, float]:
    try:
        return browse.month_span(year, month)
    except (ValueError, OverflowError):
        raise HTTPException(404) from None
