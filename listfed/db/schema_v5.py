"""Schema version 5 as it shipped, frozen: the archive's search index and threads.

- `archive.raw` holds the message zlib-compressed from v5 on (see db/compressed.py);
  `size` is the uncompressed length, `attachments` the file names the index sees.
- `archive_fts` is an external-content FTS5 index over the archive's text columns, kept
  in step by triggers (an update of thread_id alone does not touch it; an import fills
  it a batch at a time instead, see archive/importer.py), ranked by weighted bm25.
- `thread_node` is each list's JWZ thread forest, placeholders included.
"""

ARCHIVE_COLUMNS: tuple[str, ...] = (
    "ALTER TABLE archive ADD COLUMN attachments VARCHAR NOT NULL DEFAULT ''",
    "ALTER TABLE archive ADD COLUMN size INTEGER NOT NULL DEFAULT 0",
)

V5: tuple[str, ...] = (
    # the unique (list_id, message_id) index already serves lookups by list
    "DROP INDEX IF EXISTS ix_archive_list_id",
    "CREATE INDEX ix_archive_date ON archive (date)",
    """CREATE VIRTUAL TABLE archive_fts USING fts5(
        subject, sender, sender_name, body_text, attachments,
        content='archive', content_rowid='id', tokenize='unicode61 remove_diacritics 2')""",
    # bm25 weights: a match in the subject counts most, then the author, then the text
    "INSERT INTO archive_fts(archive_fts, rank) VALUES ('rank', 'bm25(5.0, 2.0, 2.0, 1.0, 1.0)')",
    # An import fills the index once per batch (much cheaper than row by row): it sets
    # this meta key inside its own transaction, so no other writer ever sees it set.
    """CREATE TRIGGER archive_fts_insert AFTER INSERT ON archive
    WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'archive_fts_batch') BEGIN
        INSERT INTO archive_fts(rowid, subject, sender, sender_name, body_text, attachments)
        VALUES (new.id, new.subject, new.sender, new.sender_name, new.body_text,
                new.attachments);
    END""",
    """CREATE TRIGGER archive_fts_delete AFTER DELETE ON archive BEGIN
        INSERT INTO archive_fts(
            archive_fts, rowid, subject, sender, sender_name, body_text, attachments)
        VALUES ('delete', old.id, old.subject, old.sender, old.sender_name, old.body_text,
                old.attachments);
    END""",
    """CREATE TRIGGER archive_fts_update AFTER UPDATE OF
        subject, sender, sender_name, body_text, attachments ON archive BEGIN
        INSERT INTO archive_fts(
            archive_fts, rowid, subject, sender, sender_name, body_text, attachments)
        VALUES ('delete', old.id, old.subject, old.sender, old.sender_name, old.body_text,
                old.attachments);
        INSERT INTO archive_fts(rowid, subject, sender, sender_name, body_text, attachments)
        VALUES (new.id, new.subject, new.sender, new.sender_name, new.body_text,
                new.attachments);
    END""",
    """CREATE TABLE thread_node (
        id INTEGER NOT NULL PRIMARY KEY,
        list_id INTEGER NOT NULL REFERENCES mlist (id) ON DELETE CASCADE,
        message_id VARCHAR NOT NULL,
        parent VARCHAR NOT NULL DEFAULT '',
        link VARCHAR NOT NULL DEFAULT '',
        thread_id VARCHAR NOT NULL,
        archived BOOLEAN NOT NULL DEFAULT 0,
        subject_key VARCHAR NOT NULL DEFAULT '',
        reply BOOLEAN NOT NULL DEFAULT 0,
        date FLOAT NOT NULL DEFAULT 0,
        UNIQUE (list_id, message_id)
    )""",
    "CREATE INDEX ix_thread_node_thread ON thread_node (list_id, thread_id)",
    "CREATE INDEX ix_thread_node_parent ON thread_node (list_id, parent)",
    "CREATE INDEX ix_thread_node_subject ON thread_node (list_id, subject_key)",
)
