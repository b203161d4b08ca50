"""Schema v15: the notes that feed the ranked search index (listfed/archive/topk).

`at` is when the change was made, in seconds (0: long ago); `seq` orders the notes, so
that the feeder can forget exactly those it carried over.
"""

from __future__ import annotations

_NOTE = "INSERT INTO search_pending (post, at) VALUES ({}.id, CAST(strftime('%s', 'now') AS REAL));"

V15 = (
    "CREATE TABLE search_pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "post INTEGER NOT NULL, at FLOAT NOT NULL)",
    f"CREATE TRIGGER search_pending_insert AFTER INSERT ON archive BEGIN {_NOTE.format('new')} END",
    f"CREATE TRIGGER search_pending_delete AFTER DELETE ON archive BEGIN {_NOTE.format('old')} END",
    "CREATE TRIGGER search_pending_update AFTER UPDATE OF list_id, date, subject, sender, "
    f"sender_name, body_text, attachments ON archive BEGIN {_NOTE.format('new')} END",
)
