"""The ranked index's folder, schema and words: opened to read by any process, to
write by the daemon alone (tantivy keeps a lock file: one writer at a time).

The folder sits beside the database (`var/listfed.db` -> `var/listfed.search/`). Its
VERSION file is written last when it is made: a folder without it, or with another
version, is not read, and the daemon makes it anew.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import tantivy

from listfed.archive.porter import stem

VERSION = "3"  # the schema and the words below: a change here rebuilds every index
WORDS = "listfed"  # the analyzer's name in the index
PAIRS = "listfed_pairs"  # the pairs fields' analyzer (see `pairs`)
# bm25 weights as the archive's FTS5 `rank` (schema v5): subject 5, author 2, text 1
WEIGHTS = {"subject": 5.0, "sender": 2.0, "body": 1.0, "attachments": 1.0}
# each field again as its words' English stems, as FTS5's `porter` makes them (the archive's
# FTS5 index finds a stem's words through stem_vocab, schema v19)
STEMMED = {name: f"{name}_stem" for name in WEIGHTS}
# the long fields again as pairs of neighbouring words, so that a phrase is found as
# terms, not by checking the positions of its words in every post that has them all (a
# phrase of two common words took 5-7 ms of 120,000 posts, its pair 0.1-0.3 ms)
PAIRED = {name: f"{name}_pairs" for name in ("body", "attachments")}
JOIN = "+"  # between a pair's words: never in a word (letters and digits only)
LONGEST = 200  # bytes: a longer "word" is not indexed (tantivy refuses > 65,530 anyway)
# "bm25, then newest": tantivy multiplies each score by log2(2 + `recent`); with
# recent = date x RECENT that is 1 + date x 7.2e-15, at most 1 + 3e-5 (year 2100):
# scores that tie (as many do, for one word in fields of like length) go newest first,
# and no two scores further apart than 0.003 % change places.
RECENT = 1e-14
LAG = 10.0  # seconds: a change waiting longer than this means no one is feeding the index


def folder_of(database: Path) -> Path:
    return database.with_name(database.stem + ".search")


def analyzer() -> tantivy.TextAnalyzer:
    """Words as FTS5's `unicode61` makes them, of text already `fold`ed: split at every
    character that is not a letter or digit, lower case."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(LONGEST))
        .filter(tantivy.Filter.lowercase())
        .build()
    )


def splitter() -> tantivy.TextAnalyzer:
    """The words of `analyzer`, long ones too: what `stems` are made of."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    return builder.filter(tantivy.Filter.lowercase()).build()


def stems(words: list[str]) -> str:
    """The words of `fold`ed text (split by `splitter`) as FTS5's `porter` stems them
    (archive/porter), a space between each: a stemmed field's text, which `analyzer`
    splits again into the same words (a word too long for the index is left out there,
    as in the field it is the twin of)."""
    return " ".join(map(stem, words))


def pairs(words: list[str]) -> str:
    """Each two neighbouring words of `fold`ed text (split by `splitter`) as one term,
    `JOIN` between them, a space between terms: a pairs field's text. A pair with a word
    the index does not keep is left out (a phrase of such a word is not found by its
    words either)."""
    return " ".join(
        pair(first, second)
        for first, second in itertools.pairwise(words)
        if len(first) <= LONGEST and len(second) <= LONGEST
    )


def pair(first: str, second: str) -> str:
    return f"{first}{JOIN}{second}"


def pair_analyzer() -> tantivy.TextAnalyzer:
    """A pairs field's terms: split at spaces only, as `pairs` wrote them."""
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)  # the archive row
    builder.add_integer_field("list", indexed=True, fast=False)
    builder.add_integer_field("date", indexed=True, fast=True)  # whole seconds
    builder.add_float_field("recent", fast=True)  # see RECENT
    for name in (*WEIGHTS, *STEMMED.values()):
        builder.add_text_field(name, tokenizer_name=WORDS, index_option="position")
    for name in PAIRED.values():  # a term's count in each post, for bm25; no positions
        builder.add_text_field(name, tokenizer_name=PAIRS, index_option="freq")
    return builder.build()


@dataclass
class Reader:
    """An index open for searching, in any process."""

    index: tantivy.Index
    schema: tantivy.Schema
    folder: Path
    words: tantivy.TextAnalyzer = field(default_factory=analyzer)
    _seen: tuple[int, int, int] | None = None  # meta.json at the last reload

    def searcher(self) -> tantivy.Searcher:
        """A searcher with what the feeder committed before this search's freshness
        check: a commit replaces meta.json (a new file, renamed into place), so the index
        is reloaded (0.2 ms) only when that file is another (a stat: microseconds)."""
        try:
            meta = (self.folder / "meta.json").stat()
            stamp: tuple[int, int, int] | None = (meta.st_ino, meta.st_mtime_ns, meta.st_size)
        except OSError:
            stamp = None  # gone (being made anew): reload, and fail there if it must
        if stamp is None or stamp != self._seen:
            self.index.reload()
            self._seen = stamp
        return self.index.searcher()

    def current(self, conn: sqlite3.Connection, now: float | None = None) -> bool:
        """Does the index hold the archive as it is? Changes younger than LAG are let be
        (a post is searchable here a moment after it is archived); an older one means
        the index is being built, or no daemon feeds it: FTS5 answers then."""
        row = conn.execute("SELECT at FROM search_pending ORDER BY seq LIMIT 1").fetchone()
        return row is None or float(row[0]) > (time.time() if now is None else now) - LAG


def open_reader(folder: Path) -> Reader | None:
    """The index in `folder`, or None when there is none (yet) or it cannot be read."""
    try:
        if (folder / "VERSION").read_text().strip() != VERSION:
            return None
        index = tantivy.Index.open(str(folder))
    except (OSError, ValueError):
        return None
    _analyzers(index)
    return Reader(index, index.schema, folder)


@dataclass
class Opener:
    """The index for a process that only reads (a web worker): opened at the first
    search, and tried again every `retry` seconds while there is none."""

    folder: Path
    retry: float = 5.0
    _reader: Reader | None = None
    _tried: float = float("-inf")

    def reader(self) -> Reader | None:
        now = time.monotonic()
        if self._reader is None and now - self._tried >= self.retry:
            self._tried = now
            self._reader = open_reader(self.folder)
        return self._reader


def open_writable(folder: Path) -> tuple[tantivy.Index, bool]:
    """The index to write, and whether it was made anew (empty: every post must be fed
    again, and `mark_made` written once they are queued)."""
    reader = open_reader(folder)
    if reader is not None:
        return reader.index, False
    shutil.rmtree(folder, ignore_errors=True)
    # A process that has the old index open (a web worker's reader) may take its meta
    # lock meanwhile, which makes the file `.tantivy-meta.lock` anew: harmless in a new
    # index. Anything else left means the folder could not be cleared: fail (the feeder
    # tries again later) rather than open what is left as the new index.
    folder.mkdir(parents=True, exist_ok=True)
    left = [entry.name for entry in folder.iterdir() if not entry.name.endswith(".lock")]
    if left:
        raise OSError(f"{folder}: could not be cleared for a new index ({', '.join(left)})")
    index = tantivy.Index(schema(), path=str(folder))
    _analyzers(index)
    return index, True


def _analyzers(index: tantivy.Index) -> None:
    index.register_tokenizer(WORDS, analyzer())
    index.register_tokenizer(PAIRS, pair_analyzer())


def mark_made(folder: Path) -> None:
    temporary = folder / "VERSION.new"
    temporary.write_text(VERSION + "\n")
    temporary.replace(folder / "VERSION")
