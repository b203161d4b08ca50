"""Schema v19: the archive's text packed, one index reading it through a view.

`archive.body_text` holds new rows' text zlib-packed (db/compressed.py `pack_text`), and
their message packed chained to it; older rows keep their plain text. The FTS5 index
`archive_fts` (v5) takes its external content from the view `archive_text`, which gives
every row's text as text through the SQL function `listfed_text` (db/compressed.py
`register`: every connection of listfed has it): it is made again over the view, with
the same tokenizer and ranking, and triggers that are v5's with the text read through
the function. The index of stems (`archive_stem`, v16) goes: an unquoted word finds the
words of its stem through `stem_vocab` (archive/stemvocab.py), filled by the upgrade.
"""

# ruff: noqa: S608 (every name spliced into these statements is one of the constants here)
from __future__ import annotations

from listfed.db.compressed import TEXT_FUNCTION

_COLUMNS = "subject, sender, sender_name, body_text, attachments"
_TOKENIZERS = {"archive_fts": "unicode61 remove_diacritics 2"}
_GONE = ("archive_stem_insert", "archive_stem_delete", "archive_stem_update")


def _values(row: str) -> str:
    return (
        f"{row}.id, {row}.subject, {row}.sender, {row}.sender_name, "
        f"{TEXT_FUNCTION}({row}.body_text), {row}.attachments"
    )


def _index(table: str, tokenizer: str) -> tuple[str, ...]:
    delete = f"INSERT INTO {table}({table}, rowid, {_COLUMNS}) VALUES ('delete', {_values('old')});"
    insert = f"INSERT INTO {table}(rowid, {_COLUMNS}) VALUES ({_values('new')});"
    return (
        f"DROP TRIGGER {table}_insert",
        f"DROP TRIGGER {table}_delete",
        f"DROP TRIGGER {table}_update",
        f"DROP TABLE {table}",
        f"""CREATE VIRTUAL TABLE {table} USING fts5({_COLUMNS},
        content='archive_text', content_rowid='id', tokenize='{tokenizer}')""",
        # bm25 weights as before: a match in the subject counts most, then the author
        f"INSERT INTO {table}({table}, rank) VALUES ('rank', 'bm25(5.0, 2.0, 2.0, 1.0, 1.0)')",
        # an import fills the indexes once per batch (archive/importer.py): as in v5
        f"""CREATE TRIGGER {table}_insert AFTER INSERT ON archive
        WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'archive_fts_batch') BEGIN
            {insert}
        END""",
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON archive BEGIN {delete} END",
        f"""CREATE TRIGGER {table}_update AFTER UPDATE OF {_COLUMNS} ON archive BEGIN
            {delete}
            {insert}
        END""",
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",
    )


V19: tuple[str, ...] = (
    f"""CREATE VIEW archive_text AS SELECT id, subject, sender, sender_name,
    {TEXT_FUNCTION}(body_text) AS body_text, attachments FROM archive""",
    *(s for table, tokenizer in _TOKENIZERS.items() for s in _index(table, tokenizer)),
    *(f"DROP TRIGGER {trigger}" for trigger in _GONE),
    "DROP TABLE archive_stem",
    # (stem, word) for each indexed word whose Porter stem is another word
    """CREATE TABLE stem_vocab (stem VARCHAR NOT NULL, word VARCHAR NOT NULL,
    PRIMARY KEY (stem, word)) WITHOUT ROWID""",
)
