"""Schema version 1 as it shipped, frozen: later versions are steps on top of it.

Written out rather than derived from the models, which keep changing.
"""

V1: tuple[str, ...] = (
    """CREATE TABLE meta (
	"key" VARCHAR NOT NULL,
	value VARCHAR NOT NULL,
	PRIMARY KEY ("key")
)""",
    """CREATE TABLE mlist (
	id INTEGER NOT NULL,
	local VARCHAR NOT NULL,
	domain VARCHAR NOT NULL,
	description VARCHAR NOT NULL,
	subject_prefix VARCHAR,
	footer VARCHAR NOT NULL,
	policy VARCHAR NOT NULL,
	nonmember_action VARCHAR NOT NULL,
	archive BOOLEAN NOT NULL,
	visibility VARCHAR NOT NULL,
	max_message_size INTEGER NOT NULL,
	reply_to VARCHAR NOT NULL,
	dmarc VARCHAR NOT NULL,
	created FLOAT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (local, domain)
)""",
    """CREATE TABLE member (
	id INTEGER NOT NULL,
	list_id INTEGER NOT NULL,
	address VARCHAR NOT NULL,
	display_address VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	role VARCHAR NOT NULL,
	delivery VARCHAR NOT NULL,
	bounce_score INTEGER NOT NULL,
	delivery_disabled BOOLEAN NOT NULL,
	last_failure VARCHAR NOT NULL,
	created FLOAT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (list_id, address),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_member_list_id ON member (list_id)""",
    """CREATE TABLE queue (
	id INTEGER NOT NULL,
	kind VARCHAR NOT NULL,
	list_id INTEGER,
	rcpt VARCHAR NOT NULL,
	detail VARCHAR NOT NULL,
	mail_from VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	raw BLOB NOT NULL,
	received FLOAT NOT NULL,
	approved BOOLEAN NOT NULL,
	state VARCHAR NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt FLOAT NOT NULL,
	last_error VARCHAR NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_queue_state ON queue (state)""",
    """CREATE INDEX ix_queue_kind ON queue (kind)""",
    """CREATE TABLE held (
	id INTEGER NOT NULL,
	list_id INTEGER NOT NULL,
	mail_from VARCHAR NOT NULL,
	sender VARCHAR NOT NULL,
	subject VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	raw BLOB NOT NULL,
	received FLOAT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_held_list_id ON held (list_id)""",
    """CREATE TABLE archive (
	id INTEGER NOT NULL,
	list_id INTEGER NOT NULL,
	message_id VARCHAR NOT NULL,
	thread_id VARCHAR NOT NULL,
	sender VARCHAR NOT NULL,
	sender_name VARCHAR NOT NULL,
	date FLOAT NOT NULL,
	subject VARCHAR NOT NULL,
	body_text VARCHAR NOT NULL,
	raw BLOB NOT NULL,
	received FLOAT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (list_id, message_id),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_archive_message_id ON archive (message_id)""",
    """CREATE INDEX ix_archive_list_id ON archive (list_id)""",
    """CREATE INDEX ix_archive_thread_id ON archive (thread_id)""",
    """CREATE TABLE outgoing (
	id INTEGER NOT NULL,
	list_id INTEGER,
	kind VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	envelope_from VARCHAR NOT NULL,
	data BLOB NOT NULL,
	created FLOAT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(list_id) REFERENCES mlist (id) ON DELETE CASCADE
)""",
    """CREATE TABLE outbox (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	outgoing_id INTEGER NOT NULL,
	address VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt FLOAT NOT NULL,
	last_error VARCHAR NOT NULL,
	UNIQUE (outgoing_id, address),
	FOREIGN KEY(outgoing_id) REFERENCES outgoing (id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_outbox_retry ON outbox(next_attempt)
WHERE attempts > 0 AND state = 'pending'""",
)
