"""Which indexed words share an English stem: the archive's one full-text index holds
the words as written (`archive_fts`, unicode61), and an unquoted word of a query matches
every word of its Porter stem (`install` finds "installed" and "installation") through
this table (schema v19), not through a second index of stems.

`stem_vocab` holds (stem, word) for every word of the index whose stem is another word;
a word that is its own stem needs no row. Rows are added as posts are archived (`pairs`
of what `record.prepare` extracts, in Python); `rebuild` makes the table again from the
index's own vocabulary (the schema upgrade, `archive reindex`), and `missing` finds what
it lacks (the daemon's daily check, listfed/housekeeping.py), so that a word Python
splits otherwise than FTS5 is healed. A row whose word left the index is harmless: one
more arm of an OR that matches nothing.
"""

from __future__ import annotations

import functools
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence

from listfed.archive.porter import stem
from listfed.records import TYPE_CHECKING  # not typing's: a search from the shell

if TYPE_CHECKING:  # a search from the shell of a plain word does without `re`
    import re

# combining marks: what unicode61 `remove_diacritics 2` takes off a letter
_MARKS = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
_WORD = r"[^\W_]+"  # letters and digits (str.isalnum): unicode61's token characters
MAX_FORMS = 64  # words a query word may stand for (real English: at most about 22)
_ADD = "INSERT OR IGNORE INTO stem_vocab (stem, word) VALUES (?, ?)"
_FORMS = "SELECT word FROM stem_vocab WHERE stem = ? ORDER BY word LIMIT ?"

Variants = Callable[[str], Sequence[str]]  # a folded word -> the words of its stem
KNOWN = 50_000  # words whose (stem, word) a process keeps (see `pairs`): about 10 MB
_UNSEEN = ("", "")
_PUNCTUATION = ".,;:!?()[]{}<>\"'*-"
_KNOWN: dict[str, tuple[str, str] | None] = {}  # a word as found -> (stem, word) or None


def fold(text: str) -> str:
    """Accents off, as FTS5's `remove_diacritics 2` does (é -> e; ø, ß and æ stay:
    they are letters of their own, not a letter and a mark). For the text indexed
    and the words searched alike; linear in the text."""
    return text if text.isascii() else _pattern(_MARKS).sub("", unicodedata.normalize("NFD", text))


def words(text: str) -> list[str]:
    """The words unicode61 (remove_diacritics 2) makes of `text`, lower case."""
    folded = fold(text).lower()
    return [folded] if folded.isalnum() else _pattern(_WORD).findall(folded)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    import re

    return re.compile(pattern)


def pairs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(stem, word) for each distinct word of the texts whose stem is another word.
    The words are found before the accents come off (a letter with its accent is one
    letter, a combining mark is no letter, so they split alike), and what a word gives
    is kept: a list's words come back post after post (about 0.1 ms a post)."""
    found: set[str] = set()
    for text in texts:
        for token in set(text.lower().split()):  # most are words already: C-speed
            if token.isalnum():
                found.add(token)
            elif (bare := token.strip(_PUNCTUATION)).isalnum():  # "agenda," "(draft)"
                found.add(bare)
            else:
                found.update(_pattern(_WORD).findall(token))
    out = []
    for word in found:
        known = _KNOWN.get(word, _UNSEEN)
        if known is _UNSEEN:
            if len(_KNOWN) >= KNOWN:
                _KNOWN.clear()
            folded = word if word.isascii() else fold(word)
            root = stem(folded)
            known = _KNOWN[word] = (root, folded) if root != folded else None
        if known is not None:
            out.append(known)
    return out


def add(conn: sqlite3.Connection, found: Sequence[tuple[str, str]]) -> None:
    if found:
        conn.executemany(_ADD, found)


def rebuild(conn: sqlite3.Connection) -> int:
    """Make the table again from every word of the index (in the caller's write
    transaction; about a second at 100,000 posts); how many rows it holds."""
    conn.execute("DELETE FROM stem_vocab")
    add(conn, list(_indexed(conn)))
    return int(conn.execute("SELECT count(*) FROM stem_vocab").fetchone()[0])


def missing(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """The pairs of the index's words that the table lacks (a word Python splits otherwise
    than FTS5): read only, so that it can run beside the writers; `add` them after."""
    have = set(conn.execute("SELECT stem, word FROM stem_vocab"))
    return [pair for pair in _indexed(conn) if pair not in have]


def _indexed(conn: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    """(stem, word) of every word of the index whose stem is another word."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.archive_words "
        "USING fts5vocab(main, archive_fts, 'row')"
    )
    try:
        cursor = conn.execute("SELECT term FROM temp.archive_words")
        while rows := cursor.fetchmany(1000):
            yield from ((s, w) for (w,) in rows if (s := stem(w)) != w)
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.archive_words")


def variants(conn: sqlite3.Connection) -> Variants:
    """For query compilation: a folded word -> every indexed word of its stem (the word
    itself first; the stem itself where it is its own stem)."""

    def forms(word: str) -> Sequence[str]:
        root = stem(word)
        found = [word]
        if root != word and stem(root) == root:
            found.append(root)
        rows = conn.execute(_FORMS, (root, MAX_FORMS)).fetchall()
        found += [str(r[0]) for r in rows if r[0] != word]
        return found[:MAX_FORMS]

    return forms
