"""What the web face's forms may mail (SPEC §10), and the link to sign in.

The forms answer the same whatever happens, so they never tell who is a member. What
they send goes to the address typed in, at most once an hour per address and ten times
an hour per client (the visitor's network address), counted in the robots' reply log
(the web process may restart at any time). Past the limits a form sends nothing.
"""

from __future__ import annotations

import logging
from string import Template

from sqlalchemy import text
from sqlmodel import Session

from listfed.context import NodeSettings
from listfed.db import lists
from listfed.notices import replies
from listfed.ops import signin

log = logging.getLogger("listfed.web")

PER_ADDRESS = 1  # mails an hour to one mailbox from the web forms
PER_CLIENT = 10  # and caused by one client address

SIGN_IN = """\
Someone (we hope you) asked to sign in to the list archives at $site as $address.

To sign in, open this link within 15 minutes and press the button on the page:

$link

It works once. If you did not ask for it, ignore this message: nothing happens.
"""


def allowed(session: Session, address: str, client: str, now: float) -> bool:
    """May a form mail `address` now, asked from `client`? If so, count it. A client is
    charged only for mail that goes out."""
    by_client = f"web@{client}"
    if replies.room(session, by_client, now, PER_CLIENT) and replies.allowed(
        session, f"{replies.mailbox(address)}#web", now, PER_ADDRESS
    ):
        replies.allowed(session, by_client, now, PER_CLIENT)
        return True
    log.warning("web form: not mailing %s (asked from %s): limit reached", address, client)
    return False


def sign_in(
    session: Session, node: NodeSettings, address: str, site: str, client: str, now: float
) -> None:
    """The sign-in form: a link to `address` if it is a member of some list here (the
    mail comes from that list's -request address)."""
    row = (
        session.connection()
        .execute(
            text("SELECT list_id FROM member WHERE address = :a ORDER BY id LIMIT 1"),
            {"a": address.lower()},
        )
        .first()
    )
    if row is None or not allowed(session, address, client, now):
        return
    lst = lists.by_id(session, int(row[0]))
    link = f"{site}/login/{signin.issue(session, address, now)}"
    body = Template(SIGN_IN).safe_substitute(site=site, address=address, link=link)
    replies.send(session, lst, address, "Sign in to the list archives", body, now, node)
    log.info("web: a sign-in link was sent to %s", address)
