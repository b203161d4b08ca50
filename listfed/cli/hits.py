"""An archive search's work and its answer on stdout, without typer: `archive search`
(cli/archive.py) and its quick form (cli/quicksearch.py) both run it."""

from __future__ import annotations

import sqlite3

from listfed.archive import answers
from listfed.archive import search as searching
from listfed.cli.plainout import Say, emit


def find(
    conn: sqlite3.Connection,
    query: str,
    list_address: str | None,
    limit: int,
    everything: bool,
) -> searching.Found:
    """The best `limit` hits (in one list, if given: it must exist)."""
    if list_address:
        from listfed.ops import archive as archive_ops

        archive_ops.list_id(conn, list_address)
    return searching.search(conn, query, list_address, limit, everything=everything)


def show(found: searching.Found, as_json: bool, say: Say, say_err: Say) -> None:
    """The hits as text or JSON; on stderr, when only the newest matches were ranked."""
    hits = found.hits
    emit(as_json, [answers.hit_json(h) for h in hits], lambda: answers.hits_text(hits), say)
    if found.windowed:
        say_err(f"({found.note('--all')})")
