"""The best posts for a query, by the ranked index: bm25, then newest (SPEC §6).

tantivy ranks by score alone; the posts whose scores tie are put newest first here,
among the `limit` + MARGIN best it returns. Where the tie runs past those, the search
is made again with each score nudged by the post's date (index.RECENT), so that the
newest of the tied posts are the ones returned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from listfed.archive.querylex import And
from listfed.archive.topk.compile import compile_tree
from listfed.archive.topk.index import Reader

MARGIN = 20


def best(
    reader: Reader,
    conn: sqlite3.Connection,
    tree: And,
    limit: int,
    span: tuple[int | None, int | None],
    readable: list[int] | None,
    every: Collection[int] = (),
) -> list[int] | None:
    """The archive ids of the best `limit` posts for the parsed query `tree`, best first;
    None when the index cannot answer it (FTS5 must). `readable`: only these lists'
    posts (None: any); `every`: the ids of the lists holding posts, where known."""

    def list_ids(name: str) -> list[int]:
        column = "local || '@' || domain" if "@" in name else "local"
        rows = conn.execute(f"SELECT id FROM mlist WHERE {column} = ?", (name,))  # noqa: S608
        return [int(r[0]) for r in rows]

    query = compile_tree(tree, reader.schema, reader.words, list_ids, span, readable, every)
    if query is None:
        return None
    searcher = reader.searcher()
    wanted = limit + MARGIN
    hits = searcher.search(query, wanted, count=False).hits
    if len(hits) == wanted and hits[limit - 1][0] == hits[-1][0]:
        # equal scores run past the margin (a from: whose posts all score alike): asked
        # again with the newest a hair ahead (index.RECENT), which costs tantivy more
        hits = searcher.search(query, wanted, count=False, weight_by_field="recent").hits
    places = [place for _score, place in hits]
    ids = searcher.fast_field_values("id", places)
    dates = searcher.fast_field_values("date", places)
    ranked = sorted(
        zip((score for score, _place in hits), dates, ids, strict=True),
        key=lambda hit: (-hit[0], -(hit[1] or 0)),
    )
    return [int(post) for _score, _date, post in ranked[:limit] if post is not None]
