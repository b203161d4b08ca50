"""Downloads: a month or a thread as mboxrd (importable by `archive import`), and the
list's Atom feed."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from listfed.archive import posts
from listfed.archive.mbox import write_entry
from listfed.web import feed
from listfed.web.kept import unchanged
from listfed.web.lists import month_span
from listfed.web.site import readable, site_of

MBOX = "application/mbox"
FEED_POSTS = 20


def mbox(messages: Iterable[tuple[bytes, str, float]]) -> Response:
    """The messages as one mboxrd file, each as archived."""
    out = io.BytesIO()
    for raw, sender, date in messages:
        write_entry(out, raw, sender, date)
    return Response(out.getvalue(), media_type=MBOX)


def month_mbox(request: Request) -> Response:
    """`/LIST@DOMAIN/YYYY/MM.mbox`."""
    site = site_of(request)
    span = month_span(request.path_params["year"], request.path_params["month"])
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
        return mbox(posts.raw_between(conn, lst.id, *span))


def atom_weight(conn: sqlite3.Connection, list_id: int, _request: Request) -> int:
    """What `atom` reads, in bytes (web/inline.py)."""
    return posts.newest_size(conn, list_id, FEED_POSTS)


def atom(request: Request) -> Response:
    """`/LIST@DOMAIN/atom.xml`: the newest posts, newest first; made again only when they
    change, and `304 Not Modified` to a reader who has this one (web/kept.py)."""
    site = site_of(request)
    root = site.root(request)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
        version = (lst, tuple(posts.newest_ids(conn, lst.id, FEED_POSTS)))
        body, tag = site.feeds.get(
            (lst.id, root),
            version,
            lambda: feed.atom(lst, posts.newest(conn, lst.id, FEED_POSTS), root),
        )
    headers = {"ETag": tag}
    if unchanged(request, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/atom+xml", headers=headers)
