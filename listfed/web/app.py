"""The web face's routes, one table, and the pages for errors.

Every page reads, but the forms and links that act (subscribe, sign in, one-click
unsubscribe), which write in short transactions of their own. Endpoints are plain
functions (starlette runs them in its thread pool) or await their work there, each thread
with a connection of its own, so a slow page never holds the event loop; the pages read
most (a post, a thread, the feed) are made on the loop when they are small
(web/inline.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from listfed.context import NodeSettings
from listfed.ops.netsearch import Network
from listfed.web import (
    account,
    downloads,
    finding,
    joining,
    lists,
    metrics,
    posts,
    searchapi,
    unsubscribe,
)
from listfed.web.headers import SecurityHeaders
from listfed.web.inline import when_ranked, when_small
from listfed.web.ratelimit import PerClient
from listfed.web.site import Site, site_of

_REASONS = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    500: "Something went wrong",
}


def _static(name: str, media_type: str) -> Response:
    data = files("listfed.web").joinpath(f"static/{name}").read_bytes()
    return Response(data, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


def stylesheet(_request: Request) -> Response:
    return _static("style.css", "text/css")


def icon(_request: Request) -> Response:
    """The site's icon, for the pages' `<link rel=icon>` and browsers that ask anyway."""
    return _static("icon.svg", "image/svg+xml")


ROUTES = [
    Route("/", lists.index),
    Route("/style.css", stylesheet),
    Route("/icon.svg", icon),
    Route("/favicon.ico", icon),
    Route("/metrics", metrics.serve),
    Route("/search", when_ranked(finding.everywhere)),
    Route("/search.json", searchapi.answer),
    Route("/u/{token}", unsubscribe.one_click, methods=["GET", "POST"]),
    Route("/login", account.login_page, methods=["GET"]),
    Route("/login", account.login, methods=["POST"]),
    Route("/login/{token}", account.link_page, methods=["GET"]),
    Route("/login/{token}", account.use_link, methods=["POST"]),
    Route("/logout", account.logout, methods=["POST"]),
    Route("/{address}", lists.without_slash),
    Route("/{address}/", lists.list_page),
    Route("/{address}/search", when_ranked(finding.in_list)),
    Route("/{address}/subscribe", joining.subscribe, methods=["POST"]),
    Route("/{address}/atom.xml", when_small(downloads.atom, downloads.atom_weight)),
    Route("/{address}/{year:int}/{month:int}/", lists.month_page),
    Route("/{address}/{year:int}/{month:int}.mbox", downloads.month_mbox),
    Route("/{address}/m/{rest:path}", when_small(posts.message, posts.post_weight)),
    Route("/{address}/t/{rest:path}", when_small(posts.thread, posts.thread_weight)),
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
    clock: Callable[[], float] = time.time,
    metrics_from: tuple[str, ...] = (),
    network: Network | None = None,
    search_rate: int = 30,
) -> ASGIApp:
    """The web face over the node's database at `database`; `secret` is the node secret
    (one-click tokens, session cookies); `node` the settings the forms' mail needs
    (None: the forms send nothing); `metrics_from` the networks besides loopback that
    may read /metrics; `network` whom the network search asks; `search_rate` how many
    JSON and network searches a client may make a minute."""
    app = Starlette(
        routes=ROUTES,
        exception_handlers={HTTPException: _error, 500: _error},
    )
    app.state.site = Site(
        database,
        busy_timeout,
        base_url,
        secret=secret,
        node=node,
        clock=clock,
        metrics_from=metrics_from,
        network=network,
        searches=PerClient(search_rate),
    )
    return SecurityHeaders(app)
