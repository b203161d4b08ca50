"""What every page needs: the database (read-only, a connection per request, as the
command line reads it), the templates, the public address; and who may read which list:
public archives everybody, `members` ones a visitor signed in as a member of that list
(looked up on every request, so leaving ends the access), private ones nobody."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from listfed.archive import browse, opendb
from listfed.archive.topk.index import Opener, Reader, folder_of
from listfed.context import NodeSettings
from listfed.db.engine import Database
from listfed.listinfo import Visibility
from listfed.ops import signin
from listfed.ops.netsearch import Network
from listfed.web import render
from listfed.web.headers import SESSION_COOKIE
from listfed.web.kept import Kept
from listfed.web.ratelimit import PerClient

# Whose archives every visitor may read; `members` ones need a signed-in member.
READABLE = (Visibility.PUBLIC.value,)
NETWORK_SEARCHES = 8  # at once, from all visitors together


@dataclass
class Site:
    database: Path
    busy_timeout: float = 5.0
    base_url: str = ""  # [node] base_url: absolute links in feeds; "" : the request's own
    templates: Environment = field(default_factory=render.environment)
    secret: str = ""  # the node secret: one-click unsubscribe tokens
    node: NodeSettings | None = None  # for the forms' mail
    clock: Callable[[], float] = time.time
    metrics_from: tuple[str, ...] = ()  # networks besides loopback that may read /metrics
    network: Network | None = None  # whom a network search asks (None: nobody)
    searches: PerClient = field(default_factory=lambda: PerClient(30))  # JSON, network
    feeds: Kept = field(default_factory=Kept)  # Atom documents, while their posts hold
    # network searches at once: each holds a worker thread up to the deadline, and the
    # pages share starlette's pool of 40
    asking: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(NETWORK_SEARCHES)
    )
    _writer: Database | None = None
    _ranked: Opener | None = None

    def ranked(self) -> Reader | None:
        """The ranked search index, when the daemon keeps one (archive/topk)."""
        if self._ranked is None:
            self._ranked = Opener(folder_of(self.database))
        return self._ranked.reader()

    def writer(self) -> Database:
        """For the few writes (one-click unsubscribe): short WAL transactions, as the
        command line writes."""
        if self._writer is None:
            self._writer = Database(self.database, self.busy_timeout)
        return self._writer

    _local: threading.local = field(default_factory=threading.local)

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's read-only connection, kept for the next page (opening one and
        reading the schema cost half of a post page). It runs no transaction between
        statements, so each page sees the newest commit; one that failed is replaced."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = opendb.connect(self.database, self.busy_timeout, readonly=True)
            self._local.conn = conn
        try:
            yield conn
        except sqlite3.Error:
            self._local.conn = None
            conn.close()
            raise

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    def root(self, request: Request) -> str:
        """The site's address without a trailing slash, for absolute links."""
        return self.base_url or str(request.base_url).rstrip("/")

    def visitor(self, request: Request) -> str:
        """The address the visitor is signed in as, or ""."""
        value = request.cookies.get(SESSION_COOKIE, "")
        return signin.visitor(self.secret, value, self.clock()) if value else ""


def members_lists(request: Request, conn: sqlite3.Connection) -> list[int]:
    """The ids of the `members` lists the visitor reads as a member (none if not signed in)."""
    who = site_of(request).visitor(request)
    if not who:
        return []
    rows = conn.execute(
        "SELECT m.id FROM mlist m JOIN member x ON x.list_id = m.id "
        "WHERE x.address = ? AND m.visibility = ?",
        (who, Visibility.MEMBERS.value),
    )
    return [int(r[0]) for r in rows]


def _may_read(request: Request, conn: sqlite3.Connection, found: browse.ListRow) -> bool:
    return found.visibility in READABLE or (
        found.visibility == Visibility.MEMBERS.value and found.id in members_lists(request, conn)
    )


def readable(request: Request, conn: sqlite3.Connection, address: str) -> browse.ListRow:
    """The list at `address` if the visitor may read it; else the 404 of a missing list."""
    found = browse.find_list(conn, address)
    if found is None or not _may_read(request, conn, found):
        raise HTTPException(404)
    return found


def readable_lists(request: Request, conn: sqlite3.Connection) -> list[browse.ListSummary]:
    """Every list whose archive the visitor may read, with its numbers."""
    mine = members_lists(request, conn)
    every = browse.lists(conn, (Visibility.PUBLIC.value, Visibility.MEMBERS.value))
    return [s for s in every if s.list.visibility in READABLE or s.list.id in mine]


def site_of(request: Request) -> Site:
    site = request.app.state.site
    assert isinstance(site, Site)
    return site
