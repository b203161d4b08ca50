"""Answering `archive search`: a parsed query run against the index, best first.

Ranked by bm25 (a hit in the subject weighs most, then the author, then the text), then
newest first; each hit carries a snippet with the matched words marked.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from listfed.archive.query import QueryError, compile_query
from listfed.errors import StorageError

MARK = ("**", "**")  # around matched words in snippets (text and JSON alike)
_WEIGHTS = "5.0, 2.0, 2.0, 1.0, 1.0"  # subject, sender, sender_name, body_text, attachments
_COLUMNS = (
    "a.message_id, m.local || '@' || m.domain, a.sender, a.sender_name, a.subject, a.date, "
    "a.thread_id, m.visibility"
)


_SNIPPET = f"snippet(archive_fts, -1, '{MARK[0]}', '{MARK[1]}', '…', 24)"


@dataclass(frozen=True)
class Hit:
    message_id: str
    list: str
    sender: str
    sender_name: str
    subject: str
    date: float
    thread_id: str
    visibility: str
    snippet: str


def search(
    conn: sqlite3.Connection, query: str, list_address: str | None = None, limit: int = 20
) -> list[Hit]:
    """The best `limit` messages for the query; raises QueryError for a malformed one."""
    compiled = compile_query(query)
    where = list(compiled.where)
    params: dict[str, object] = dict(compiled.params)
    if list_address:
        where.append("m.local || '@' || m.domain = :list_address")
        params["list_address"] = list_address.lower()
    params["limit"] = max(1, limit)
    # Only our own constants and the compiler's conditions are spliced into the SQL; every
    # value the user typed is a bound parameter.
    if compiled.match is not None:
        params["match"] = compiled.match
        sql = (
            f"SELECT {_COLUMNS}, {_SNIPPET} "  # noqa: S608
            "FROM archive_fts JOIN archive a ON a.id = archive_fts.rowid "
            "JOIN mlist m ON m.id = a.list_id "
            f"WHERE archive_fts MATCH :match{_and(where)} "
            f"ORDER BY bm25(archive_fts, {_WEIGHTS}), a.date DESC LIMIT :limit"
        )
    else:
        sql = (
            f"SELECT {_COLUMNS}, substr(a.body_text, 1, 160) "  # noqa: S608
            "FROM archive a JOIN mlist m ON m.id = a.list_id "
            f"WHERE 1{_and(where)} ORDER BY a.date DESC LIMIT :limit"
        )
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc):  # the compiler escapes everything; should it miss a case
            raise QueryError(f"bad query: {query!r} could not be searched") from None
        raise StorageError(f"searching the archive failed: {exc}") from None
    return [
        Hit(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], " ".join(str(r[8]).split()))
        for r in rows
    ]


def _and(conditions: list[str]) -> str:
    return "".join(f" AND ({c})" for c in conditions)
