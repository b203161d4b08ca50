"""What every page needs: the database (read-only, a connection per request, as the
command line reads it), the templates, the public address; and who may read which list."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from listfed.archive import browse, opendb
from listfed.context import NodeSettings
from listfed.db.engine import Database
from listfed.listinfo import Visibility
from listfed.web import render

# Who may read a list's archive on the web. Signing in (members archives) comes later:
# until then a members or private list is, to every visitor, a list that does not exist.
READABLE = (Visibility.PUBLIC.value,)


@dataclass
class Site:
    database: Path
    busy_timeout: float = 5.0
    base_url: str = ""  # [node] base_url: absolute links in feeds; "" : the request's own
    templates: Environment = field(default_factory=render.environment)
    secret: str = ""  # the node secret: one-click unsubscribe tokens
    node: NodeSettings | None = None  # for the subscribe form's confirmations
    _writer: Database | None = None

    def writer(self) -> Database:
        """For the few writes (one-click unsubscribe): short WAL transactions, as the
        command line writes."""
        if self._writer is None:
            self._writer = Database(self.database, self.busy_timeout)
        return self._writer

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        conn = opendb.connect(self.database, self.busy_timeout, readonly=True)
        try:
            yield conn
        finally:
            conn.close()

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    def root(self, request: Request) -> str:
        """The site's address without a trailing slash, for absolute links."""
        return self.base_url or str(request.base_url).rstrip("/")


def readable(conn: sqlite3.Connection, address: str) -> browse.ListRow:
    """The list at `address` if the visitor may read it; else the 404 of a missing list."""
    found = browse.find_list(conn, address)
    if found is None or found.visibility not in READABLE:
        raise HTTPException(404)
    return found


def site_of(request: Request) -> Site:
    site = request.app.state.site
    assert isinstance(site, Site)
    return site
