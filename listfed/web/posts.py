"""One post (`/LIST@DOMAIN/m/MSGID`, and `/raw`), and the thread it belongs to
(`/LIST@DOMAIN/t/MSGID`, and `.mbox`).

A Message-ID may hold any character, '/' included: it comes percent-encoded in one path
segment, so the segment is read from the raw path, not from the decoded one.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote, unquote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from listfed.archive import posts, removal
from listfed.archive.answers import walk
from listfed.archive.threads import tree
from listfed.mail.parts import attachments, relayed_through
from listfed.web import downloads
from listfed.web.site import readable, site_of


def _segments(request: Request) -> tuple[str, list[str]]:
    """The Message-ID segment (decoded) and what follows it in the path."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    parts = raw.decode("latin-1").split("/")  # ['', address, 'm' or 't', id, ...]
    if len(parts) < 4 or not parts[3]:
        raise HTTPException(404)
    return unquote(parts[3], errors="replace"), parts[4:]


def post_weight(conn: sqlite3.Connection, list_id: int, request: Request) -> int:
    """What `message` reads, in bytes (web/inline.py)."""
    return posts.stored_size(conn, list_id, _segments(request)[0])


def thread_weight(conn: sqlite3.Connection, list_id: int, request: Request) -> int:
    """What `thread` reads, in bytes (web/inline.py)."""
    return posts.thread_size(conn, list_id, _segments(request)[0].removesuffix(".mbox"))


def message(request: Request) -> Response:
    message_id, rest = _segments(request)
    if rest not in ([], ["raw"]):
        raise HTTPException(404)
    site = site_of(request)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
        found = posts.placed(conn, lst.id, message_id)
        if found is None and removal.removed(conn, lst.id, [message_id]):
            return site.page("removed.html", status=410, list=lst)
        if found is None:
            raise HTTPException(404)
        if rest == ["raw"]:
            return Response(found.raw, media_type="text/plain; charset=utf-8")
        near = posts.by_ids(conn, lst.id, [found.parent, *found.replies])
    subject = found.post.subject or "(no subject)"
    reply = "Re: " + subject if not subject.lower().startswith("re:") else subject
    in_reply_to = quote(f"<{message_id}>", safe="")
    mailto = f"mailto:{lst.address}?In-Reply-To={in_reply_to}&subject={quote(reply, safe='')}"
    return site.page(
        "message.html",
        list=lst,
        post=found.post,
        parent=near.get(found.parent),
        replies=[near[r] for r in found.replies if r in near],
        files=attachments(found.raw),
        relayed=[a for a in relayed_through(found.raw) if a != lst.address],
        mailto=mailto,
    )


def thread(request: Request) -> Response:
    message_id, rest = _segments(request)
    if rest:
        raise HTTPException(404)
    mbox = message_id.endswith(".mbox")
    site = site_of(request)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])
        wanted = message_id.removesuffix(".mbox") if mbox else message_id
        tid = posts.thread_id(conn, lst.id, wanted)
        if tid is None:
            raise HTTPException(404)
        if mbox:
            return downloads.mbox(posts.raw_thread(conn, lst.id, tid))
        roots = tree(conn, lst.id, tid)
        found = posts.in_thread(conn, lst.id, tid)
        nodes = [(node.message_id, depth) for node, depth, _ in walk(roots)]
        gone = removal.removed(conn, lst.id, [m for m, _ in nodes if m not in found])
    items = [(found.get(mid), mid, depth, mid in gone) for mid, depth in nodes]
    first = next((p for p, _, _, _ in items if p is not None), None)
    return site.page("thread.html", list=lst, items=items, first=first, focus=wanted)
