"""`/u/TOKEN`: one-click unsubscribe (RFC 8058, SPEC §10).

A GET never unsubscribes (mail scanners follow links): it shows a button that POSTs.
A POST whose body is `List-Unsubscribe=One-Click` (what mail programs send, and what
the button sends) unsubscribes that member from that list at once and answers 200,
without a redirect; sending it again is harmless. A forged or altered token does
nothing. The write is a short transaction of its own, through ops/members.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from listfed import oneclick
from listfed.db import lists
from listfed.db.models import Member
from listfed.errors import NotFound
from listfed.notices import owners
from listfed.ops import members
from listfed.web import forms
from listfed.web.site import Site, site_of

log = logging.getLogger("listfed.web")


@dataclass(frozen=True)
class Found:
    member: str = ""  # the address, "" when the token names nobody (any more)
    list_address: str = ""
    forged: bool = False


async def one_click(request: Request) -> Response:
    site = site_of(request)
    token = oneclick.read(request.path_params["token"])
    if token is None:
        return site.page("unsubscribe.html", status=400, state="invalid")
    if request.method == "GET":
        found = await run_in_threadpool(_find, site, token)
        state = "invalid" if found.forged else ("ask" if found.member else "gone")
        return site.page(
            "unsubscribe.html", status=400 if found.forged else 200, state=state, found=found
        )
    fields = await forms.fields(request)
    if fields.get("List-Unsubscribe") != "One-Click":
        return site.page("unsubscribe.html", status=400, state="invalid")
    found = await run_in_threadpool(_unsubscribe, site, token)
    if found.forged:
        return site.page("unsubscribe.html", status=400, state="invalid")
    return site.page("unsubscribe.html", state="done", found=found)


def _member(site: Site, token: oneclick.Token) -> tuple[Member | None, str]:
    with site.writer().read() as s:
        row = s.get(Member, token.member_id)
        if row is None or row.list_id != token.list_id:
            return None, ""
        return row, lists.by_id(s, token.list_id).address


def _find(site: Site, token: oneclick.Token) -> Found:
    row, address = _member(site, token)
    if row is None:
        return Found()
    if not oneclick.valid(site.secret, token, row.address):
        return Found(forged=True)
    return Found(row.display_address, address)


def _unsubscribe(site: Site, token: oneclick.Token) -> Found:
    with site.writer().write() as s:
        row = s.get(Member, token.member_id)
        if row is None or row.list_id != token.list_id:
            return Found()  # gone already: harmless to ask again
        if not oneclick.valid(site.secret, token, row.address):
            return Found(forged=True)
        lst = lists.by_id(s, token.list_id)
        try:
            members.remove(s, lst.address, [row.address])
        except NotFound:
            return Found()
        if site.node is not None:
            how = "one-click unsubscribe"
            owners.tell_change(
                s, site.node, lst, row.display_address, joined=False, how=how, now=time.time()
            )
    log.info("%s: %s unsubscribed (one-click)", lst.address, row.display_address)
    return Found(row.display_address, lst.address)
