"""Tests for listfed.archive.query: the search language, run against a real FTS5 table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.archive import stemvocab
from listfed.archive.query import Compiled, QueryError, compile_query, parse
from listfed.archive.querylex import MAX_DEPTH, MAX_LENGTH, And, Field, Or, Term
from listfed.errors import ListfedError

SCHEMA = """
CREATE TABLE mlist (id INTEGER PRIMARY KEY, local TEXT NOT NULL, domain TEXT NOT NULL);
CREATE TABLE archive (
    id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL REFERENCES mlist(id),
    message_id TEXT NOT NULL, thread_id TEXT, sender TEXT, sender_name TEXT,
    date REAL NOT NULL, subject TEXT, body_text TEXT, attachments TEXT
);
CREATE VIRTUAL TABLE archive_fts USING fts5(subject, sender, sender_name, body_text, attachments,
  content='archive', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TABLE stem_vocab (stem TEXT NOT NULL, word TEXT NOT NULL, PRIMARY KEY (stem, word))
  WITHOUT ROWID;
CREATE TRIGGER archive_ai AFTER INSERT ON archive BEGIN
  INSERT INTO archive_fts(rowid, subject, sender, sender_name, body_text, attachments)
  VALUES (new.id, new.subject, new.sender, new.sender_name, new.body_text, new.attachments);
END;
"""

LISTS = [
    (1, "general", "lists.example.org"),
    (2, "dev", "lists.example.org"),
    (3, "general", "other.example.net"),
]


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# message id, list, date (UTC), subject, sender, sender name, body
MESSAGES = [
    ("m1", 1, "2024-01-01 00:00:00", "Call for a general strike", "ann@example.org", "Ann Lee",
     "We call a general strike on Monday."),
    ("m2", 1, "2023-12-31 23:59:59", "Strike fund", "bob@example.net", "Bob Marsh",
     "The general fund pays for the strike; draft budget attached."),
    ("m3", 2, "2024-01-02 00:00:00", "Café meeting", "carol@example.com", "Carol Ng",
     "Meet at the café near the station."),
    ("m4", 2, "2024-01-03 12:00:00", "Cafe menu", "dave@example.com", "Dave",
     "The plain cafe menu; installation next week."),
    ("m5", 1, "2024-02-01 09:00:00", "My résumé", "erin@example.org", "Erin Park",
     "Attached is my résumé."),
    ("m6", 1, "2024-02-02 09:00:00", "Let us resume the meeting", "frank@example.org", "Frank",
     "We resume tomorrow."),
    ("m7", 2, "2024-02-03 09:00:00", "Organizing committee", "ann@example.org", "Ann Lee",
     "Notes on organising, from the organizer."),
    ("m8", 2, "2024-02-04 09:00:00", "Draft agenda", "greg@example.com", "Greg Hall",
     "The agenda for organizers."),
    ("m9", 3, "2024-03-01 09:00:00", "Draft minutes", "hana@other.example.net", "Hana",
     "Minutes of the meeting. Please do not drop table archive again."),
    ("m10", 1, "2024-03-02 09:00:00", "NEAR the office", "ivan@example.org", "Ivan",
     "The a:b ratio, the {x} brace. The printer is installed."),
]  # fmt: skip


def fill(conn: sqlite3.Connection) -> None:
    """LISTS and MESSAGES into SCHEMA's tables (test_archive_ranked's too)."""
    conn.executemany("INSERT INTO mlist (id, local, domain) VALUES (?, ?, ?)", LISTS)
    conn.executemany(
        "INSERT INTO archive (message_id, list_id, date, subject, sender, sender_name, body_text,"
        " attachments) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
        [(mid, lst, ts(date), *rest) for mid, lst, date, *rest in MESSAGES],
    )
    stemvocab.rebuild(conn)  # the words of each stem, as the schema upgrade makes them


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    fill(conn)
    yield conn
    conn.close()


def run(db: sqlite3.Connection, compiled: Compiled) -> list[str]:
    """The search as the product runs it."""
    where = "".join(f" AND {cond}" for cond in compiled.where)
    if compiled.match is None:
        sql = (
            "SELECT a.message_id FROM archive a JOIN mlist m ON m.id = a.list_id"
            f" WHERE 1{where} ORDER BY a.date DESC"
        )
        params = compiled.params
    else:
        fts = compiled.table
        sql = (
            f"SELECT a.message_id FROM {fts} JOIN archive a ON a.id = {fts}.rowid"
            " JOIN mlist m ON m.id = a.list_id"
            f" WHERE {fts} MATCH :match{where}"
            f" ORDER BY bm25({fts}, 5.0, 2.0, 2.0, 1.0, 1.0), a.date DESC"
        )
        params = {**compiled.params, "match": compiled.match}
    return [row[0] for row in db.execute(sql, params)]


def search(db: sqlite3.Connection, query: str) -> set[str]:
    return set(run(db, compile_query(query, stemvocab.variants(db))))


# (query, the messages it finds): also what the ranked index must find (test_archive_ranked)
CASES: list[tuple[str, set[str]]] = [
        # words are AND-ed; a phrase needs the words together
        ("general strike", {"m1", "m2"}),
        ('"general strike"', {"m1"}),
        ('"strike general"', set()),
        ("Strike", {"m1", "m2"}),
        # OR, and its precedence: meeting AND (café OR resume)
        ("minutes OR agenda", {"m8", "m9"}),
        ("meeting café OR resume", {"m3", "m6"}),
        ("(meeting café) OR resume", {"m3", "m5", "m6"}),
        ("(minutes OR agenda) (draft OR meeting)", {"m8", "m9"}),
        # exclusion
        ("meeting -café", {"m6", "m9"}),
        ('strike -"general strike"', {"m2"}),
        ("meeting -(café OR minutes)", {"m6"}),
        ("-draft after:2024-02-01", {"m5", "m6", "m7", "m10"}),
        ("-draft -meeting after:2024-02-01", {"m5", "m7", "m10"}),
        # AND and NOT in capitals, as notmuch and Gmail users type them
        ("general AND strike", {"m1", "m2"}),
        ("strike AND NOT fund", {"m1"}),
        ("NOT strike list:general@lists.example.org", {"m5", "m6", "m10"}),
        ("minutes AND (draft OR meeting)", {"m9"}),
        ("meeting NOT (café OR minutes)", {"m6"}),
        ("drop NOT archive", set()),
        ('"AND" OR "NOT"', {"m9"}),  # quoted, words again
        # fields
        ("from:ann@example.org", {"m1", "m7"}),
        ('from:"Ann Lee"', {"m1", "m7"}),
        ("from:carol", {"m3"}),
        ("from:ann organizer", {"m7"}),
        ("-from:ann strike", {"m2"}),
        ("draft", {"m2", "m8", "m9"}),
        ("subject:draft", {"m8", "m9"}),
        ('subject:"general strike"', {"m1"}),
        ("Subject:DRAFT -subject:minutes", {"m8"}),
        ("list:dev", {"m3", "m4", "m7", "m8"}),
        ("list:general after:2024-03-01", {"m9", "m10"}),
        ("list:general@lists.example.org after:2024-03-01", {"m10"}),
        ("list:General@Other.Example.NET", {"m9"}),
        ("list:dev OR list:general@other.example.net", {"m3", "m4", "m7", "m8", "m9"}),
        ("-list:dev after:2024-02-01", {"m5", "m6", "m9", "m10"}),
        ("list:dev OR minutes", {"m3", "m4", "m7", "m8", "m9"}),
        ("list:nosuch", set()),
        # dates: after is inclusive and before exclusive, both at 00:00 UTC
        ("strike after:2024-01-01", {"m1"}),
        ("strike before:2024-01-01", {"m2"}),
        ("after:2024-01-01 before:2024-01-02", {"m1"}),
        ("before:2024-01-03", {"m1", "m2", "m3"}),
        # diacritics either way, prefixes
        ("cafe", {"m3", "m4"}),
        ("CAFÉ", {"m3", "m4"}),
        ("résumé", {"m5", "m6"}),
        ("resume", {"m5", "m6"}),
        ("organi*", {"m7", "m8"}),
        ("organi", set()),
        ("from:car*", {"m3"}),
        # hostile or odd text is text
        ("NEAR(", {"m3", "m10"}),
        ('"NEAR(the office)"', {"m10"}),
        ("a:b", {"m10"}),
        ("{x}", {"m10"}),
        ("drop not archive", {"m9"}),  # in lower case, words
        ("'; DROP TABLE archive; --", {"m9"}),
        ('strike "', {"m1", "m2"}),
        ("strike *", {"m1", "m2"}),
        ("strike ^", {"m1", "m2"}),
        ("^strike", {"m1", "m2"}),
        ("strike -", {"m1", "m2"}),
        ('"strike OR minutes"', set()),
        ("re: http://x strike", set()),
        ("strike\x00general", {"m1", "m2"}),
        # English stems, unless quoted (or a prefix, or from:)
        ("install", {"m4", "m10"}),
        ("installing", {"m4", "m10"}),
        ('"install"', set()),
        ('"installed"', {"m10"}),
        ('"is installed"', {"m10"}),
        ('"is installing"', set()),
        ("install -installation", set()),
        ('install -"installation"', {"m10"}),
        ("install NOT installations", set()),
        ("organizing", {"m7", "m8"}),
        ("subject:meetings", {"m3", "m6"}),
        ('subject:"meetings"', set()),
        ("from:anns", set()),
        ("instal*", {"m4", "m10"}),
        ('install "plain cafe"', {"m4"}),
        ('"plain cafe" OR installed', {"m4", "m10"}),
        ('"is installed" OR organizing', {"m7", "m8", "m10"}),
        ('(install -"installation") OR agenda', {"m8", "m10"}),
        ('list:dev OR "is installed"', {"m3", "m4", "m7", "m8", "m10"}),
        ('-"is installed" printer', set()),
        ('-(printers "is installed") install', {"m4"}),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_search(db: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert search(db, query) == expected
    assert db.execute("SELECT count(*) FROM archive").fetchone() == (len(MESSAGES),)


def test_ranking_prefers_subject_then_newest(db: sqlite3.Connection) -> None:
    # "meeting" is in m3's and m6's subjects, only in m9's body
    assert run(db, compile_query("meeting"))[-1] == "m9"
    assert run(db, compile_query("list:dev")) == ["m8", "m7", "m4", "m3"]


EXACT_NOT_IN = "a.id NOT IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH :p1)"


@pytest.mark.parametrize(
    ("query", "table", "match", "where", "params", "lists"),
    [
        ("a b OR c", "archive_fts", '"a" AND ("b" OR "c")', (), {}, ()),
        ('say 5" a"b', "archive_fts", '"say" AND "5""" AND "a""b"', (), {}, ()),
        (
            "list:a OR list:B",
            "archive_fts",
            None,
            ("(m.local = :p1 OR m.local = :p2)",),
            {"p1": "a", "p2": "b"},
            ("a", "b"),
        ),
        # from:, a prefix and quotes: as written; all in the one MATCH
        ("from:Ann* -x", "archive_fts", '{sender sender_name} : "Ann" * NOT "x"', (), {}, ()),
        ('from:Ann* -"x"', "archive_fts", '{sender sender_name} : "Ann" * NOT "x"', (), {}, ()),
        ("-list:x y", "archive_fts", '"y"', ("NOT (m.local = :p1)",), {"p1": "x"}, ("x",)),
        ("after:2024-01-01", "archive_fts", None, ("a.date >= :p1",), {"p1": 1704067200}, ()),
        ("-draft", "archive_fts", None, (EXACT_NOT_IN,), {"p1": '"draft"'}, ()),
        ('install "rent strike"', "archive_fts", '"install" AND "rent strike"', (), {}, ()),
        ('strike -"rent strike"', "archive_fts", '"strike" NOT "rent strike"', (), {}, ()),
        ('"rent strike" OR picket', "archive_fts", '("rent strike" OR "picket")', (), {}, ()),
        # an OR with SQL in it: its words rank, the OR is a condition
        (
            "list:a OR strike",
            "archive_fts",
            None,
            ("(m.local = :p1 OR a.id IN (SELECT rowid FROM archive_fts WHERE archive_fts "
             "MATCH :p2))",),
            {"p1": "a", "p2": '"strike"'},
            ("a",),
        ),
        (
            "(list:a picket) OR strike",
            "archive_fts",
            '("picket" OR "strike")',
            ("((a.id IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH :p2) AND "
             "m.local = :p1) OR a.id IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH "
             ":p3))",),
            {"p1": "a", "p2": '"picket"', "p3": '"strike"'},
            ("a",),
        ),
    ],
)  # fmt: skip
def test_compiled_form(
    query: str,
    table: str,
    match: str | None,
    where: tuple[str, ...],
    params: dict[str, object],
    lists: tuple[str, ...],
) -> None:
    compiled = compile_query(query)
    got = (compiled.table, compiled.match, compiled.where, compiled.params, compiled.lists)
    assert got == (table, match, where, params, lists)


@pytest.mark.parametrize(
    ("query", "after", "before"),
    [
        ("strike", None, None),
        ("after:2024-01-01 x", ts("2024-01-01 00:00:00"), None),
        ("x before:2024-01-02 before:2024-01-03", None, ts("2024-01-02 00:00:00")),
        (
            "(x after:2024-01-01) after:2023-06-01 before:2024-02-01",
            ts("2024-01-01 00:00:00"),
            ts("2024-02-01 00:00:00"),
        ),
    ],
)
def test_date_terms_bound_the_span_every_hit_lies_in(
    query: str, after: float | None, before: float | None
) -> None:
    compiled = compile_query(query)
    assert (compiled.after, compiled.before) == (after, before)


def test_parse_tree() -> None:
    tree = parse('-a "b c" OR from:x*')
    assert isinstance(tree, And)
    first, second = tree.items
    assert first == Term(Field.TEXT, "a", negated=True, pos=1, raw="-a")
    assert isinstance(second, Or)
    assert second.items == (
        Term(Field.TEXT, "b c", pos=4, raw='"b c"', quoted=True),
        Term(Field.FROM, "x", prefix=True, pos=13, raw="from:x*"),
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("  \t ", "empty"),
        ('"general strike', 'unclosed quote after "general strike'),
        ('strike -"general', 'unclosed quote after "general'),
        ("(strike", "'(' at position 1 is never closed"),
        ("(a (b) c", "unbalanced parentheses"),
        ("strike)", "')' at position 7 has no matching '('"),
        (") strike", "unbalanced parentheses"),
        ("OR strike", "OR at position 1 has no term before it"),
        ("strike OR", "OR at position 8 has no term after it"),
        ("strike OR OR general", "OR at position 8 has no term after it"),
        ("(OR strike)", "OR at position 2"),
        ("(strike OR) x", "OR at position 9"),
        ("from:", "from: at position 1 needs a value"),
        ("strike subject: x", "subject: at position 8 needs a value"),
        ('list:""', "list: at position 1 needs a value"),
        ("-from:", "needs a value"),
        ("after:2024-13-01", "after:2024-13-01 is not a date"),
        ("after:2024-02-30", "after:2024-02-30 is not a date"),
        ("before:yesterday", "before:yesterday is not a date"),
        ("after:20240101", "after:20240101 is not a date"),
        ("after:2024-1-1", "after:2024-1-1 is not a date"),
        ("after:0000-01-01", "is not a date"),
        ("after:２０２４-01-01", "is not a date"),
        ("-after:2024-01-01", "cannot be negated or combined with OR (-after:2024-01-01)"),
        ("strike OR before:2024-01-01", "cannot be negated or combined with OR"),
        ("strike OR (x after:2024-01-01)", "cannot be negated or combined with OR"),
        ("x -(y after:2024-01-01)", "cannot be negated or combined with OR"),
        ("strike OR -draft", "cannot be combined with OR (-draft at position 11)"),
        ("-draft OR strike", "cannot be combined with OR (-draft at position 1)"),
        ("strike OR -(a b)", "cannot be combined with OR"),
        ("strike OR (-draft)", "cannot be combined with OR (the group at position 11)"),
        ("strike AND", "AND at position 8 needs a term on each side"),
        ("AND strike", "AND at position 1 needs a term on each side"),
        ("strike AND OR general", "AND at position 8 needs a term on each side"),
        ("strike NOT", "NOT at position 8 has no term after it"),
        ("NOT NOT strike", "NOT at position 1 has no term after it"),
        ("strike NOT -draft", "NOT at position 8 and the - of -draft both negate it"),
        ("NOT after:2024-01-01", "cannot be negated or combined with OR (NOT after:2024-01-01)"),
        ("strike OR NOT draft", "cannot be combined with OR (NOT draft at position 11)"),
        ("!!!", "nothing to search for"),
        ('""', "nothing to search for"),
        ('"', "nothing to search for"),
        ("- * ^ ()", "nothing to search for"),
        ("from:!!!", "nothing to search for"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
        ("x" * (MAX_LENGTH + 1), "too long"),
        ("strike \ud800", "not valid text"),
    ],
)
def test_errors(query: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        compile_query(query)
    assert message in str(caught.value)
    assert str(caught.value).startswith("bad query: ")
    assert isinstance(caught.value, ListfedError)
    assert caught.value.exit_code == 1


# the nestings that cost FTS5's parser most, at the deepest we allow
DEEP = {
    "or-and": lambda n: "x OR (y z " * n + "w" + ")" * n,
    "fields": lambda n: "from:x* OR (subject:y z OR (" * (n // 2) + "w" + "))" * (n // 2),
    "negated": lambda n: "a " + "-(a b -c " * n + "w" + ")" * n,
    "or-negated": lambda n: "q OR (b -c " * n + "w" + ")" * n,
    "sql": lambda n: "list:x -(a OR (b -c " * (n // 2) + "w" + "))" * (n // 2),
}


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_deepest_nesting_runs(db: sqlite3.Connection, shape: str) -> None:
    run(db, compile_query(DEEP[shape](MAX_DEPTH)))
    with pytest.raises(QueryError, match="nested deeper"):
        compile_query(DEEP[shape](MAX_DEPTH + 2))


def check_runs(db: sqlite3.Connection, query: str) -> None:
    try:
        compiled = compile_query(query)
    except QueryError:
        return
    assert "match" not in compiled.params
    run(db, compiled)


@settings(max_examples=300, deadline=None)
@given(query=st.text())
def test_any_text_compiles_or_fails_cleanly(db: sqlite3.Connection, query: str) -> None:
    check_runs(db, query)


PIECES = st.one_of(
    st.sampled_from(
        [
            '"', "(", ")", "-", "*", "OR", "or", "AND", "NOT", "NEAR", "^", "{", "}", ":",
            "'", "+", "from:", "list:", "subject:", "after:", "before:", "after:2024-01-01",
            "before:2024-02-30", "list:dev", "list:general@lists.example.org", "strike",
            "café", '"general strike"', "organi*", "a:b", "\x00", "résumé", "{subject}",
            "install", '"installed"', "subject:meetings", "organizing", '"is installed"',
        ]
    ),
    st.text(max_size=3),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(PIECES, st.sampled_from([" ", "", "  "])), max_size=14))
def test_language_soup_compiles_or_fails_cleanly(
    db: sqlite3.Connection, parts: list[tuple[str, str]]
) -> None:
    check_runs(db, "".join(piece + gap for piece, gap in parts))


def test_an_unquoted_word_stands_for_the_indexed_words_of_its_stem(db: sqlite3.Connection) -> None:
    compiled = compile_query("subject:organizing installs -resumes", stemvocab.variants(db))
    assert compiled.match == (
        '{subject} : ("organizing" OR "organ" OR "organizer" OR "organizers") AND ("installs"'
        ' OR "instal" OR "installation" OR "installed") NOT ("resumes" OR "resum" OR "resume")'
    )  # the stem itself too, when it is its own stem: the index may hold it as a word
    # a word of several is the phrase as written; quoted words and prefixes are as written
    assert compile_query('e-mail "installs" instal*', stemvocab.variants(db)).match == (
        '"e-mail" AND "installs" AND "instal" *'
    )
    assert search(db, "organizers") == {"m7", "m8"}  # "organising" is not Porter's "organ"
    assert search(db, '"organizers"') == {"m8"}
    assert search(db, "subject:organizers") == {"m7"}
