"""Answering `archive search`: a parsed query run against the index, best first.

Ranked by bm25 (a hit in the subject weighs most, then the author, then the text), then
newest first; each hit carries a snippet with the matched words marked. Errors in the
SQL are never the user's: a malformed query is refused by the parser before.

A query that matches more than `WINDOW` posts is ranked among the newest `WINDOW` of
them (the most recently archived), unless `everything` asks for all: bm25 has to score
every candidate before it can sort, which for a common word in a 100,000-post archive
takes 100-200 ms, against 15-25 ms for the window. `Found` says when it happened, so
that the reader can be told and ask for every match.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence

from listfed.archive import stemvocab
from listfed.archive.query import EXACT, Compiled, QueryError, compile_query
from listfed.errors import StorageError
from listfed.records import TYPE_CHECKING, NamedTuple  # not dataclasses: archive/querylex.py

if TYPE_CHECKING:  # the ranked index is tantivy's: `archive search` does not load it
    from listfed.archive.topk.index import Reader

MARK = ("**", "**")  # around matched words in snippets (text and JSON alike)
MARGIN = 200  # leaders ranked beyond the limit (see _ranked)
WINDOW = 10_000  # a query matching more posts is ranked among the newest this many
SPANS = 4  # rowid ranges a date range's posts are looked for in (see _spans)
# The weights of bm25 (subject, sender, sender_name, body_text, attachments) are the
# index's `rank` setting, made by schema v5 (and v19 over the packed text).
_COLUMNS = (
    "a.message_id, m.local || '@' || m.domain, a.sender, a.sender_name, a.subject, a.date, "
    "a.thread_id, m.visibility"
)


_SNIPPET = f"-1, '{MARK[0]}', '{MARK[1]}', '…', 24"  # snippet()'s after the index's name
_INDEXES = (EXACT,)  # the only name spliced into the SQL below


class NoSuchList(QueryError):
    """A list: that names no list here (or none the reader may read): a network search
    takes it as no hits here, since the list may live on another node."""


class Hit(NamedTuple):
    message_id: str
    list: str
    sender: str
    sender_name: str
    subject: str
    date: float
    thread_id: str
    visibility: str
    snippet: str


class Found(NamedTuple):
    hits: list[Hit]
    window: int = 0  # ranked among the newest this many matches only (0: among all)
    matches: int | None = None  # then: how many posts hold the words (None: not counted)

    @property
    def windowed(self) -> bool:
        return self.window > 0

    def note(self, how_to_ask: str) -> str:
        """What a reader is told when only the newest matches were ranked."""
        if not self.windowed:
            return ""
        of = f" of {self.matches:,}" if self.matches is not None else ""
        return (
            f"ranked among the newest {self.window:,}{of} matches; {how_to_ask} ranks every match"
        )


def search(
    conn: sqlite3.Connection,
    query: str,
    list_address: str | None = None,
    limit: int = 20,
    visibilities: Sequence[str] | None = None,
    *,
    everything: bool = False,
    also: Sequence[int] = (),
    ranked: Reader | None = None,
    shown: slice = slice(None),
) -> Found:
    """The best `limit` messages for the query; raises QueryError for a malformed one.
    `visibilities`: only lists whose archive is one of these (the web face's readers),
    and the lists whose ids are in `also` (a signed-in member's own lists).
    `everything`: rank every match, however many (see WINDOW). `ranked`: the ranked
    index (archive/topk), which ranks every match at once where it can answer.
    `shown`: the hits that get a snippet, the others "" (a web page: its own 20 of the
    `limit`; a page's snippets cost about as much as its ranking)."""
    compiled = compile_query(query, stemvocab.variants(conn))
    where = list(compiled.where)
    params: dict[str, object] = dict(compiled.params)
    # A condition every archived post meets costs a row read per match and changes
    # nothing (one list on the node, or every list readable): it is left out.
    holding = _holding(conn) if list_address or visibilities is not None else []
    if list_address and any(address != list_address.lower() for _i, address, _v in holding):
        where.append("m.local || '@' || m.domain = :list_address")
        params["list_address"] = list_address.lower()
    if visibilities is not None:
        names = [f"visibility{i}" for i in range(len(visibilities))]
        ids = [f"also{i}" for i in range(len(also))]
        readable = (
            f"(m.visibility IN ({', '.join(':' + n for n in names)}) "
            f"OR m.id IN ({', '.join(':' + n for n in ids)}))"
        )
        if any(v not in visibilities and i not in also for i, _a, v in holding):
            where.append(readable)
        params.update(zip(names, visibilities, strict=True))
        params.update(zip(ids, also, strict=True))
    _lists_exist(conn, compiled.lists, readable if visibilities is not None else "", params)
    params["limit"] = max(1, limit)
    table = compiled.table
    assert table in _INDEXES
    try:
        if compiled.match is None:
            return Found(_by_date(conn, where, params))
        if ranked is not None and ranked.current(conn):
            lists = _readable(holding, list_address, visibilities, also)
            every = [i for i, _address, _visibility in holding]
            found = _by_index(conn, ranked, compiled, max(1, limit), lists, shown, every)
            if found is not None:
                return found
        params["match"] = compiled.match
        window = WINDOW  # read now: tests make it small
        few, dated = False, []  # a date range of no more than `window` posts: their rowids
        if compiled.after is not None or compiled.before is not None:
            dated = _dated(conn, compiled.after, compiled.before, window)
            if not dated:
                return Found([])
            few = len(dated) <= window  # so no more matches either: no window's edge to find
        cut = None if everything or few else _cutoff(conn, table, where, params, window)
        if cut is not None:
            params["cut"] = cut
        unbounded: list[tuple[int | None, int | None]] = [(None, None)]
        spans = _spans(dated) if few else unbounded
        leaders = _ranked(conn, table, where, params, spans)
        snippets = _snippets(conn, table, compiled.match, [rowid for rowid, _row in leaders][shown])
        matches = _count(conn, table, compiled.match) if cut is not None and not where else None
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc):  # the compiler escapes everything; should it miss a case
            raise QueryError(f"bad query: {query!r} could not be searched") from None
        raise StorageError(f"searching the archive failed: {exc}") from None
    hits = [_hit(row, snippets.get(rowid, "")) for rowid, row in leaders]
    return Found(hits, window if cut is not None else 0, matches)


def _readable(
    holding: list[tuple[int, str, str]],
    list_address: str | None,
    visibilities: Sequence[str] | None,
    also: Sequence[int],
) -> list[int] | None:
    """The ids of the lists whose posts may be hits, None when that is every list."""
    if not holding:
        return None  # nothing asked of the lists (see `search`)
    kept = [
        i
        for i, address, visibility in holding
        if (visibilities is None or visibility in visibilities or i in also)
        and (list_address is None or address == list_address.lower())
    ]
    return None if len(kept) == len(holding) else kept


def _by_index(
    conn: sqlite3.Connection,
    ranked: Reader,
    compiled: Compiled,
    limit: int,
    readable: list[int] | None,
    shown: slice,
    every: list[int],
) -> Found | None:
    """The answer of the ranked index, None where it cannot give one (see topk/compile)."""
    from listfed.archive.topk.rank import best  # loaded with the index, by its holder

    if readable == []:
        return Found([])
    span = (compiled.after, compiled.before)
    try:
        ids = best(ranked, conn, compiled.tree, limit, span, readable, every)
    except Exception:  # tantivy's errors (or a bug): the index is a cache, FTS5 answers
        import logging  # here only: a search from the shell has no index and no logs

        logging.getLogger("listfed.search").exception(
            "the ranked index failed a search (FTS5 answers)"
        )
        return None
    if ids is None:
        return None
    named = {f"r{i}": post for i, post in enumerate(ids)}
    sql = (
        f"SELECT a.id, {_COLUMNS} FROM archive a JOIN mlist m ON m.id = a.list_id "  # noqa: S608
        f"WHERE a.id IN ({','.join(':' + name for name in named)})"
    )
    rows = {int(r[0]): r[1:] for r in conn.execute(sql, named)} if ids else {}
    kept = [post for post in ids if post in rows]  # a post removed a moment ago is gone
    assert compiled.match is not None
    snippets = _snippets(conn, compiled.table, compiled.match, kept[shown])
    return Found([_hit(rows[post], snippets.get(post, "")) for post in kept])


def _lists_exist(
    conn: sqlite3.Connection, names: Sequence[str], readable: str, params: dict[str, object]
) -> None:
    """Refuse a query whose list: names no list (the web face: no list the reader may
    read, so that a private list is exactly as absent as one that does not exist)."""
    also = _and([readable] if readable else [])
    for name in names:
        column = "m.local || '@' || m.domain" if "@" in name else "m.local"
        found = conn.execute(
            f"SELECT 1 FROM mlist m WHERE {column} = :list_name{also} LIMIT 1",  # noqa: S608
            {**params, "list_name": name},
        ).fetchone()
        if found is None:
            raise NoSuchList(f"bad query: list:{name}: there is no such list")


def _holding(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """(id, address, visibility) of each list with archived posts (an index probe each)."""
    rows = conn.execute(
        "SELECT m.id, m.local || '@' || m.domain, m.visibility FROM mlist m "
        "WHERE EXISTS (SELECT 1 FROM archive a WHERE a.list_id = m.id)"
    )
    return [(int(i), str(a), str(v)) for i, a, v in rows]


def _hit(row: tuple[object, ...], snippet: str) -> Hit:
    mid, lst, sender, name, subject, date, thread_id, visibility = row
    return Hit(
        str(mid),
        str(lst),
        str(sender),
        str(name),
        str(subject),
        float(date),  # type: ignore[arg-type]
        str(thread_id),
        str(visibility),
        " ".join(snippet.split()),
    )


# Only our own constants and the compiler's conditions are spliced into the SQL below;
# every value the user typed is a bound parameter.


def _ranked(
    conn: sqlite3.Connection,
    table: str,
    where: list[str],
    params: dict[str, object],
    spans: list[tuple[int | None, int | None]],
) -> list[tuple[int, tuple[object, ...]]]:
    """Best first: bm25 (the index's `rank`), then newest. FTS5 ranks alone and only the
    leaders are joined to their rows (a common word matches most of an archive; joining
    every match to read its date costs more than the ranking). When the conditions keep
    `limit` of the leaders and the scores at the cut differ, those are exactly the best
    that meet them; else (and for date ranges, which usually keep few) every match is
    judged: in each of the rowid `spans` (None: no bound), best of all kept."""
    limit = int(str(params["limit"]))
    if not any("a.date" in c for c in where):  # dates usually keep few: judge every match
        found = _leaders(conn, table, where, params, limit)
        if found is not None:
            return found
    best: list[tuple[object, ...]] = []
    for lo, hi in spans:
        bounds = {"lo": lo, "hi": hi} if lo is not None else {}
        sql = (
            f"SELECT a.id, {_COLUMNS}, {table}.rank FROM {table} "  # noqa: S608
            f"JOIN archive a ON a.id = {table}.rowid JOIN mlist m ON m.id = a.list_id "
            f"WHERE {table} MATCH :match{_window(table, {**params, **bounds})}{_and(where)} "
            f"ORDER BY {table}.rank, a.date DESC LIMIT :limit"
        )
        best += conn.execute(sql, {**params, **bounds}).fetchall()
    if len(spans) > 1:  # the scores are the one index's: they compare across spans
        best.sort(key=lambda r: (float(str(r[-1])), -float(str(r[6]))))
    return [(int(str(r[0])), r[1:-1]) for r in best[:limit]]


def _cutoff(
    conn: sqlite3.Connection, table: str, where: list[str], params: dict[str, object], window: int
) -> int | None:
    """The rowid of the `window`-th newest match (of the words and every condition), or
    None when fewer match: then every match is ranked. Cheap: FTS5 walks its rowids
    newest first and stops there; with conditions each is looked up by its key."""
    if where:
        sql = (
            f"SELECT a.id FROM {table} JOIN archive a ON a.id = {table}.rowid "  # noqa: S608
            f"JOIN mlist m ON m.id = a.list_id WHERE {table} MATCH :match{_window(table, params)}"
            f"{_and(where)} ORDER BY {table}.rowid DESC LIMIT 1 OFFSET :skip"
        )
    else:
        sql = (
            f"SELECT rowid FROM {table} WHERE {table} MATCH :match{_window(table, params)} "  # noqa: S608
            "ORDER BY rowid DESC LIMIT 1 OFFSET :skip"
        )
    row = conn.execute(sql, {**params, "skip": window - 1}).fetchone()
    return None if row is None else int(row[0])


def _count(conn: sqlite3.Connection, table: str, match: str) -> int:
    """How many posts hold the words (a few ms: no scoring, no join)."""
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (match,))  # noqa: S608
    return int(row.fetchone()[0])


def _window(table: str, params: dict[str, object]) -> str:
    """The rowid bounds of the FTS5 walk: the window's edge, or a span of a date range."""
    cut = f" AND {table}.rowid >= :cut" if "cut" in params else ""
    return cut + (f" AND {table}.rowid BETWEEN :lo AND :hi" if "lo" in params else "")


def _dated(conn: sqlite3.Connection, after: int | None, before: int | None, most: int) -> list[int]:
    """The rowids of the posts dated in [after, before), `most` + 1 at most: read from
    the date index alone."""
    rows = conn.execute(
        "SELECT id FROM archive WHERE date >= :after AND date < :before LIMIT :most",
        {
            "after": -(2**62) if after is None else after,
            "before": 2**62 if before is None else before,
            "most": most + 1,
        },
    )
    return [int(r[0]) for r in rows]


def _spans(rowids: list[int]) -> list[tuple[int | None, int | None]]:
    """Rowid ranges that hold all of `rowids`, at most SPANS of them, cut at the widest
    gaps. Posts are mostly archived in date order, so a short date range is mostly one
    short rowid range (with a few posts archived late: an older archive imported after),
    and FTS5 then walks only the matches in these ranges, not every match of the words;
    the dates are still judged one by one, so this never changes an answer."""
    import heapq  # here: only a date range is cut in spans

    ids = sorted(rowids)
    widest = heapq.nlargest(SPANS - 1, range(1, len(ids)), key=lambda i: ids[i] - ids[i - 1])
    cuts = sorted(i for i in widest if ids[i] - ids[i - 1] > 1)
    edges = [0, *cuts, len(ids)]
    return [(ids[a], ids[b - 1]) for a, b in itertools.pairwise(edges)]


def _leaders(
    conn: sqlite3.Connection, table: str, where: list[str], params: dict[str, object], limit: int
) -> list[tuple[int, tuple[object, ...]]] | None:
    """The best by rank among the index's leaders, or None when the leaders cannot tell
    (the conditions keep too few of them, or equal scores run past the cut)."""
    wanted = limit + MARGIN
    # `+rank`, not `rank`: SQLite's sorter then keeps the best `wanted` as the matches
    # come, where FTS5's own ORDER BY rank sorts every match first (a common word's
    # newest 10,000: 9 ms against 13). The same bm25, once a match. Which of equal
    # scores come first changes nothing: the check at the cut below does not depend on
    # it, and the join reads the rows by id.
    lead = conn.execute(
        f"SELECT rowid, rank FROM {table} WHERE {table} MATCH :match{_window(table, params)} "  # noqa: S608
        "ORDER BY +rank LIMIT :wanted",
        {"match": params["match"], "cut": params.get("cut"), "wanted": wanted},
    ).fetchall()
    if not lead:
        return []
    rank = {int(rowid): float(r) for rowid, r in lead}
    named: dict[str, object] = {f"r{i}": rowid for i, rowid in enumerate(rank)}
    sql = (
        f"SELECT a.id, {_COLUMNS} FROM archive a JOIN mlist m ON m.id = a.list_id "  # noqa: S608
        f"WHERE a.id IN ({','.join(':' + name for name in named)}){_and(where)}"
    )
    named.update({k: v for k, v in params.items() if k not in ("match", "limit", "cut")})
    rows = sorted(
        ((int(r[0]), r[1:]) for r in conn.execute(sql, named)),
        key=lambda item: (rank[item[0]], -float(str(item[1][5]))),
    )
    if len(lead) < wanted:  # every match is among them
        return rows[:limit]
    if len(rows) >= limit and rank[rows[limit - 1][0]] < float(lead[-1][1]):
        return rows[:limit]
    return None


def _snippets(
    conn: sqlite3.Connection, table: str, match: str, rowids: list[int]
) -> dict[int, str]:
    """Snippets for the hits only (making one reads and tokenises the message's text)."""
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    sql = (
        f"SELECT rowid, snippet({table}, {_SNIPPET}) FROM {table} "  # noqa: S608
        f"WHERE {table} MATCH ? AND rowid IN ({marks})"
    )
    return {int(r[0]): str(r[1]) for r in conn.execute(sql, (match, *rowids))}


def _by_date(conn: sqlite3.Connection, where: list[str], params: dict[str, object]) -> list[Hit]:
    sql = (
        f"SELECT {_COLUMNS}, substr(listfed_text(a.body_text), 1, 160) "  # noqa: S608
        "FROM archive a JOIN mlist m ON m.id = a.list_id "
        f"WHERE 1{_and(where)} ORDER BY a.date DESC LIMIT :limit"
    )
    return [_hit(r[:8], str(r[8])) for r in conn.execute(sql, params)]


def _and(conditions: list[str]) -> str:
    return "".join(f" AND ({c})" for c in conditions)
