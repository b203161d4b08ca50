"""Schema version 7 as it shipped, frozen: a message's bytes stored once per intake.

Before v7 every queue row (one per accepted recipient) and every held post carried its
own copy of the message: 200 recipients of a 1 MB message took 400 MB. From v7 on the
bytes are one `spooled` row that queue and held rows point at.

- A `spooled` row lives as long as a queue or held row refers to it: the foreign keys
  (no ON DELETE action) refuse to delete it sooner, and the triggers delete it in the
  statement that deletes the last referrer, whatever deletes it (the pipeline, a
  moderator's decision, expiry, a list's deletion cascading). So a crash can never leave
  one behind: it goes in the same transaction as its last queue or held row.
- Existing rows get one `spooled` row each: a queue row's has the queue row's id, a held
  row's the held row's id past the largest queue id.
"""

SPOOLED = "CREATE TABLE spooled (id INTEGER NOT NULL, raw BLOB NOT NULL, PRIMARY KEY (id))"

QUEUE = """CREATE TABLE queue_new (
	id INTEGER NOT NULL,
	kind VARCHAR NOT NULL,
	list_id INTEGER,
	rcpt VARCHAR NOT NULL,
	detail VARCHAR NOT NULL,
	mail_from VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	spooled_id INTEGER NOT NULL,
	received FLOAT NOT NULL,
	approved BOOLEAN NOT NULL,
	origin VARCHAR NOT NULL DEFAULT '',
	state VARCHAR NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt FLOAT NOT NULL,
	last_error VARCHAR NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE,
	FOREIGN KEY(spooled_id) REFERENCES spooled (id)
)"""

HELD = """CREATE TABLE held_new (
	id INTEGER NOT NULL,
	list_id INTEGER NOT NULL,
	mail_from VARCHAR NOT NULL,
	sender VARCHAR NOT NULL,
	subject VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	spooled_id INTEGER NOT NULL,
	received FLOAT NOT NULL,
	expires FLOAT NOT NULL DEFAULT 0,
	PRIMARY KEY (id),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE,
	FOREIGN KEY(spooled_id) REFERENCES spooled (id)
)"""

COPY: tuple[str, ...] = (
    "INSERT INTO spooled (id, raw) SELECT id, raw FROM queue",
    "INSERT INTO spooled (id, raw) "
    "SELECT id + (SELECT COALESCE(MAX(id), 0) FROM queue), raw FROM held",
    "INSERT INTO queue_new SELECT id, kind, list_id, rcpt, detail, mail_from, message_id, "
    "id, received, approved, origin, state, attempts, next_attempt, last_error FROM queue",
    "INSERT INTO held_new SELECT id, list_id, mail_from, sender, subject, message_id, reason, "
    "id + (SELECT COALESCE(MAX(id), 0) FROM queue), received, expires FROM held",
    "DROP TABLE queue",  # with its indexes; foreign keys are off during upgrades
    "DROP TABLE held",
    "ALTER TABLE queue_new RENAME TO queue",
    "ALTER TABLE held_new RENAME TO held",
)

INDEXES: tuple[str, ...] = (
    "CREATE INDEX ix_queue_state ON queue (state)",
    "CREATE INDEX ix_queue_kind ON queue (kind)",
    "CREATE INDEX ix_queue_spooled_id ON queue (spooled_id)",
    "CREATE INDEX ix_held_list_id ON held (list_id)",
    "CREATE INDEX ix_held_spooled_id ON held (spooled_id)",
)

TRIGGERS: tuple[str, ...] = (
    """CREATE TRIGGER queue_frees_spooled AFTER DELETE ON queue
    WHEN NOT EXISTS (SELECT 1 FROM queue WHERE spooled_id = old.spooled_id)
    AND NOT EXISTS (SELECT 1 FROM held WHERE spooled_id = old.spooled_id) BEGIN
        DELETE FROM spooled WHERE id = old.spooled_id;
    END""",
    """CREATE TRIGGER held_frees_spooled AFTER DELETE ON held
    WHEN NOT EXISTS (SELECT 1 FROM queue WHERE spooled_id = old.spooled_id)
    AND NOT EXISTS (SELECT 1 FROM held WHERE spooled_id = old.spooled_id) BEGIN
        DELETE FROM spooled WHERE id = old.spooled_id;
    END""",
)

V7: tuple[str, ...] = (SPOOLED, QUEUE, HELD, *COPY, *INDEXES, *TRIGGERS)
