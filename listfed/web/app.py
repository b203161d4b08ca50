"""The web face's routes, one table, and the pages for errors.

Every page reads, but one-click unsubscribe (`/u/TOKEN`), which writes in a short
transaction of its own. Endpoints are plain functions: starlette runs them in its thread
pool, each with its own read-only connection, so a slow page never holds the event loop.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from listfed.context import NodeSettings
from listfed.web import downloads, finding, joining, lists, posts, unsubscribe
from listfed.web.headers import SecurityHeaders
from listfed.web.site import Site, site_of

_REASONS = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    500: "Something went wrong",
}


def stylesheet(_request: Request) -> Response:
    css = files("listfed.web").joinpath("static/style.css").read_bytes()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


ROUTES = [
    Route("/", lists.index),
    Route("/style.css", stylesheet),
    Route("/search", finding.everywhere),
    Route("/u/{token}", unsubscribe.one_click, methods=["GET", "POST"]),
    Route("/{address}", lists.without_slash),
    Route("/{address}/", lists.list_page),
    Route("/{address}/search", finding.in_list),
    Route("/{address}/subscribe", joining.subscribe, methods=["POST"]),
    Route("/{address}/atom.xml", downloads.atom),
    Route("/{address}/{year:int}/{month:int}/", lists.month_page),
    Route("/{address}/{year:int}/{month:int}.mbox", downloads.month_mbox),
    Route("/{address}/m/{rest:path}", posts.message),
    Route("/{address}/t/{rest:path}", posts.thread),
]


def _error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    site = site_of(request)
    reason = _REASONS.get(status, "Error")
    return site.page("error.html", status=status, code=status, reason=reason)


def build(
    database: Path,
    busy_timeout: float = 5.0,
    base_url: str = "",
    secret: str = "",
    node: NodeSettings | None = None,
) -> ASGIApp:
    """The web face over the node's database at `database`; `secret` is the node secret
    (one-click unsubscribe tokens); `node` the settings the subscribe form's
    confirmations need (None: the form sends nothing)."""
    app = Starlette(
        routes=ROUTES,
        exception_handlers={HTTPException: _error, 500: _error},
    )
    app.state.site = Site(database, busy_timeout, base_url, secret=secret, node=node)
    return SecurityHeaders(app)
