"""`listfed [-c FILE] archive search QUERY [--list L] [--limit N] [--all] [--json]`
without typer, and without the full config check.

A search from the shell should answer within 50 ms, Python's start-up included; typer
alone takes 35 ms to import, the full config check 20 ms, pathlib 4. The plain forms of
the one command people run interactively and from scripts are read here, the config by
listfed/quickconfig.py; anything else (help, a misspelt option, a bad number, a config
or database that is not plainly in order) goes to the full command line, which explains
it or upgrades the database. tests/test_quicksearch.py holds what this may import.
"""

from __future__ import annotations

import os

from listfed import configcache, quickconfig
from listfed.archive import opendb
from listfed.cli import hits, plainout
from listfed.errors import ListfedError

_VALUE = {"--list", "--limit"}


def _parse(argv: list[str]) -> tuple[str | None, str, str | None, int, bool, bool] | None:
    config: str | None = None
    words = list(argv)
    while words and words[0] in ("--config", "-c") and len(words) > 1:
        config = words[1]
        words = words[2:]
    if words[:2] != ["archive", "search"]:
        return None
    query: str | None = None
    options: dict[str, str] = {}
    as_json = everything = positional_only = False
    rest = words[2:]
    while rest:
        word = rest.pop(0)
        if positional_only or not word.startswith("-") or word == "-":
            if query is not None:
                return None
            query = word
        elif word == "--":
            positional_only = True
        elif word == "--json":
            as_json = True
        elif word == "--all":
            everything = True
        elif word in _VALUE and rest:
            options[word] = rest.pop(0)
        elif word.startswith("--"):
            return None
        else:  # "-draft minutes": a query that excludes a word, as the full command reads it
            if query is not None:
                return None
            query = word
    limit = options.get("--limit", "20")
    if query is None or not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 1000:
        return None
    return config, query, options.get("--list"), int(limit), as_json, everything


def search(argv: list[str]) -> int | None:
    """Run the search if argv is a plain one; its exit status, else None."""
    parsed = _parse(argv)
    if parsed is None or not plainout.plain_streams():
        return None
    config, query, list_address, limit, as_json, everything = parsed
    cache = configcache.folder(os.environ)
    storage = quickconfig.storage(config, os.environ, os.getcwd(), cache=cache)
    if storage is None:
        return None  # the full command line says what is wrong
    database = os.path.join(storage[0], "listfed.db")
    if not os.path.exists(database):
        return None
    try:
        conn = opendb.connect(database, storage[1], readonly=True, mapped=False)
    except ListfedError:
        return None  # said by the full command line, with the path as it writes paths
    try:
        try:
            if not opendb.is_current(conn):
                return None  # an older database: the full command upgrades it first
            found = hits.find(conn, query, list_address, limit, everything)
        finally:
            conn.close()
        hits.show(found, as_json, plainout.echo, plainout.echo_err)
    except Exception as exc:
        return plainout.status_of(exc, plainout.echo_err)
    return 0
