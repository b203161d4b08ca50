"""Signing in, for `members` archives (SPEC §10): `/login` mails a link to a member (the
page says the same for anyone); the link (GET) shows a button; pressing it (POST) signs
in with a session cookie, so a mail scanner that follows links spends nothing.
`/logout` ends the session on this browser."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from listfed.addresses import normalise
from listfed.errors import InvalidAddress
from listfed.ops import signin, webmail
from listfed.web import forms
from listfed.web.forms import client_of
from listfed.web.headers import SESSION_COOKIE
from listfed.web.site import Site, site_of


def login_page(request: Request) -> Response:
    site = site_of(request)
    return site.page("login.html", visitor=site.visitor(request))


async def login(request: Request) -> Response:
    """The form (field `email`): a link if the address is a member here; the same page
    either way, and for a mistyped address too."""
    site = site_of(request)
    given = (await forms.fields(request)).get("email", "").strip()
    try:
        address = normalise(given)
    except InvalidAddress:
        return site.page("login.html", status=400, bad=given, visitor="")
    await run_in_threadpool(_mail, site, address, site.root(request), client_of(request))
    return site.page("signin.html", state="sent")


def _mail(site: Site, address: str, root: str, client: str) -> None:
    if site.node is None:
        return
    with site.writer().write() as s:
        webmail.sign_in(s, site.node, address, root, client, site.clock())


def link_page(request: Request) -> Response:
    """`GET /login/TOKEN`: the button, or why the link cannot be used (nothing is spent)."""
    site = site_of(request)
    token = request.path_params["token"]
    with site.writer().read() as s:
        problem = signin.peek(s, token, site.clock())
    if problem:
        return site.page("signin.html", status=400, state="bad", problem=problem)
    return site.page("signin.html", state="ask", token=token)


async def use_link(request: Request) -> Response:
    """`POST /login/TOKEN`: signed in and the link spent, or a page that says why not."""
    site = site_of(request)
    token = request.path_params["token"]

    def redeem() -> signin.Redeemed:
        with site.writer().write() as s:
            return signin.redeem(s, token, site.clock())

    done = await run_in_threadpool(redeem)
    if not done.address:
        return site.page("signin.html", status=400, state="bad", problem=done.problem)
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        signin.cookie(site.secret, done.address, site.clock()),
        max_age=int(signin.SESSION_LIFETIME),
        httponly=True,
        secure=True,
        samesite="lax",
    )
    return answer


def logout(_request: Request) -> Response:
    answer = RedirectResponse("/", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, httponly=True, secure=True, samesite="lax")
    return answer
