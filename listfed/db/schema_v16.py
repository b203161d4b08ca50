"""Schema v16: the archive's text indexed a second time by English stems (Porter's),
so that `install` finds "installed" (archive/query.py says which words match where).

`archive_stem` is `archive_fts` (schema v5) with the `porter` tokenizer over the same
unicode61: external content on the archive, ranked by the same weighted bm25, kept by
triggers that are v5's for the other table (so the insert trigger stands aside, as
v5's does, while an import fills both indexes a batch at a time: archive/importer.py).
"""

from __future__ import annotations

import re

from listfed.db.schema_v5 import V5


def _for_stems(statement: str) -> str:
    """A statement of v5 about archive_fts, about archive_stem (the meta key that stops
    the insert trigger, `archive_fts_batch`, stays the one key)."""
    named = statement.replace("TRIGGER archive_fts_", "TRIGGER archive_stem_")
    return re.sub(r"\barchive_fts\b", "archive_stem", named)


V16 = (
    """CREATE VIRTUAL TABLE archive_stem USING fts5(
        subject, sender, sender_name, body_text, attachments,
        content='archive', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    "INSERT INTO archive_stem(archive_stem, rank) VALUES ('rank', 'bm25(5.0, 2.0, 2.0, 1.0, 1.0)')",
    *(_for_stems(s) for s in V5 if s.startswith("CREATE TRIGGER archive_fts_")),
)
FILL = "INSERT INTO archive_stem(archive_stem) VALUES ('rebuild')"
