"""`POST /LIST@DOMAIN/subscribe` (form field `email`): joining from a browser starts the
same confirmation as mail to LIST-join (SPEC §10). The page says the same whatever the
address, so it never tells who is a member; and so that the form cannot be used to
mail-bomb a stranger, it sends at most one mail per address and ten per client an hour
(further requests get the same page and send nothing).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from listfed.addresses import normalise
from listfed.db import lists
from listfed.errors import InvalidAddress
from listfed.ops import webmail
from listfed.robots import actions
from listfed.tokens import Action
from listfed.web import forms
from listfed.web.forms import client_of
from listfed.web.site import Site, readable, site_of


async def subscribe(request: Request) -> Response:
    site = site_of(request)
    with site.reading() as conn:
        lst = readable(request, conn, request.path_params["address"])  # else the 404 of no list
    given = (await forms.fields(request)).get("email", "").strip()
    try:
        address = normalise(given)
    except InvalidAddress:
        return site.page("joined.html", status=400, list=lst, address=given, bad=True)
    await run_in_threadpool(_ask, site, lst.address, address, client_of(request))
    return site.page("joined.html", list=lst, address=address, bad=False)


def _ask(site: Site, list_address: str, address: str, client: str) -> None:
    if site.node is None:
        return
    with site.writer().write() as s:
        now = site.clock()
        if webmail.allowed(s, address, client, now):
            lst = lists.get(s, list_address)
            actions.ask(s, site.node, lst, Action.SUBSCRIBE, address, now)
