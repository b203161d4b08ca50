"""The tables. Lists and members are state; queue, held, outgoing and outbox are work;
archive is the record. Raw message bytes are always kept: everything else derives from them."""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class MailingList(SQLModel, table=True):
    __tablename__ = "mlist"
    __table_args__ = (UniqueConstraint("local", "domain"),)

    id: int | None = Field(default=None, primary_key=True)
    local: str
    domain: str
    description: str = ""
    subject_prefix: str | None = None
    footer: str = ""
    policy: str = "members"
    nonmember_action: str = "hold"
    archive: bool = True
    visibility: str = "public"
    max_message_size: int = 0
    reply_to: str = "none"
    dmarc: str = "munge"
    created: float
    # Members by email (schema v3)
    bounce_threshold: int = 5
    digest_size: int = 30 * 1024
    digest_period: str = "daily"  # hourly | daily | weekly
    digest_format: str = "mime"  # mime | plain (RFC 1153)
    digest_issue: int = 0  # the number of the last digest sent
    welcome_message: str = ""  # "" : the default text
    goodbye_message: str = ""
    # Moderation, DMARC and reply-to (schema v4)
    emergency: bool = False  # hold every post, whoever sends it
    accept_these_nonmembers: str = ""  # addresses, *@domain globs or ^regexes, one per line
    hold_types: str = ""  # MIME types (type/subtype, type/*) that hold a post
    dmarc_always: str = ""  # From domains always mitigated, whatever they publish
    dmarc_never: str = ""  # From domains never mitigated
    hold_expiry: float = 14 * 86400.0  # a held post is dropped (poster told) after this
    reply_to_override: bool = False  # true: replace a Reply-To the poster set
    one_click: bool = True  # members' copies carry a one-click unsubscribe URL (base_url)
    notify_owners: bool = True  # owners hear of each join and leave


class Member(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("list_id", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mlist.id", index=True, ondelete="CASCADE")
    address: str  # lower-cased for comparison; display_address keeps the case given
    display_address: str
    name: str = ""
    role: str = "member"
    delivery: str = "regular"
    bounce_score: int = 0
    delivery_disabled: bool = False
    last_failure: str = ""
    created: float
    last_bounce: float = 0.0  # when the score last rose (at most once per UTC day)
    probe_sent: float = 0.0  # verp = "probes": when a probe went out for this member
    disabled_by: str = ""  # why delivery_disabled: "bounces" | "admin" ("" when enabled)
    moderated: bool = False  # this member's posts wait for a moderator (schema v4)


class Spooled(SQLModel, table=True):
    """A message's bytes as taken in, stored once however many queue items (one per
    recipient) and held posts refer to it (schema v7). A trigger deletes the row with the
    last of them; the foreign keys refuse to delete it sooner."""

    __tablename__ = "spooled"

    id: int | None = Field(default=None, primary_key=True)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class QueueItem(SQLModel, table=True):
    """A message accepted at intake, waiting for its worker (pipeline, robots, bounces).
    Its bytes are in `spooled` (db/spooled.py), shared by every recipient of the message."""

    __tablename__ = "queue"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # an addresses.Kind value
    list_id: int | None = Field(default=None, foreign_key="mlist.id", ondelete="CASCADE")
    rcpt: str  # the recipient address it was accepted for
    detail: str = ""  # VERP part of -bounces+X, token of -confirm+TOKEN
    mail_from: str = ""
    message_id: str = ""
    spooled_id: int = Field(foreign_key="spooled.id", index=True)
    received: float
    approved: bool = False  # released from the hold queue: skip the posting policy
    origin: str = ""  # "route:NAME" when a route on this node relayed it here (trusted)
    state: str = Field(default="new", index=True)  # new | bad
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""


class Held(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mlist.id", index=True, ondelete="CASCADE")
    mail_from: str = ""
    sender: str = ""
    subject: str = ""
    message_id: str = ""
    reason: str
    spooled_id: int = Field(foreign_key="spooled.id", index=True)  # the post's bytes
    received: float
    expires: float = 0.0  # dropped by housekeeping after this (schema v4); 0: never


class ArchivedMessage(SQLModel, table=True):
    __tablename__ = "archive"
    __table_args__ = (UniqueConstraint("list_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mlist.id", ondelete="CASCADE")
    message_id: str = Field(index=True)
    thread_id: str = Field(index=True)
    sender: str = ""
    sender_name: str = ""
    date: float
    subject: str = ""
    body_text: str = ""  # packed bytes from schema v19: db/compressed.text_of reads either
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # zlib (db/compressed)
    received: float
    attachments: str = ""  # schema v5: file names, for the index
    size: int = 0  # the message's length uncompressed


class ArchiveRemoval(SQLModel, table=True):
    """A post removed from a list's archive (schema v11: `archive delete`, `members
    forget --posts`): what the web face answers 410 Gone for, the thread shows as
    "post removed", and what is never archived again (a relay, a re-import)."""

    __tablename__ = "archive_removed"
    __table_args__ = (UniqueConstraint("list_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mlist.id", ondelete="CASCADE")
    message_id: str
    thread_id: str
    removed: float
    reason: str  # "archive delete" | "members forget --posts"


class Outgoing(SQLModel, table=True):
    """One message as sent (decorated once), shared by all of its outbox rows."""

    # Ids are never reused (AUTOINCREMENT): delivery caches messages by id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    list_id: int | None = Field(default=None, foreign_key="mlist.id", ondelete="CASCADE")
    kind: str = "post"  # post | notice
    message_id: str = ""
    envelope_from: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created: float


class OutboxEntry(SQLModel, table=True):
    """One recipient of one outgoing message; deleted once the smarthost accepted it."""

    __tablename__ = "outbox"
    # Ids only grow (AUTOINCREMENT): the delivery dispatcher's cursor relies on it.
    __table_args__ = (
        UniqueConstraint("outgoing_id", "address"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index on state: the dispatcher reads by id range and by the partial retry index
    # (schema.py), and the unique (outgoing_id, address) index serves outgoing_id.
    outgoing_id: int = Field(foreign_key="outgoing.id", ondelete="CASCADE")
    address: str
    state: str = "pending"  # pending | failed
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""


class RelayRecord(SQLModel, table=True):
    """The relay ledger: what went where by which route, and what arrived as a relay.

    `direction` "out": sent by `route` to `target`; "in": arrived on this list as a relay
    from the list `target`. It answers "is this thread shared with that target?"
    """

    __tablename__ = "relay"

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mlist.id", ondelete="CASCADE")
    message_id: str
    thread_id: str
    route: str = ""
    target: str  # a list address, lower-cased
    direction: str = "out"  # out | in
    created: float
    outcome: str = ""  # queued locally | sent | pending | failed: ... | received
    outgoing_id: int | None = None


class Token(SQLModel, table=True):
    """A pending confirmation: single use, HMAC-bound to its list, address, action and
    expiry, kept so that it can be revoked (`members forget`)."""

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(unique=True)
    list_id: int = Field(foreign_key="mlist.id", index=True, ondelete="CASCADE")
    address: str = Field(index=True)  # as given; the HMAC covers it lower-cased
    action: str  # subscribe | unsubscribe
    name: str = ""  # the display name to subscribe with
    expires: float
    created: float
    used: float = 0.0  # 0: not yet


class RobotReply(SQLModel, table=True):
    """When the robots last wrote to an address: the per-address rate limit."""

    __tablename__ = "robot_reply"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(index=True)  # lower-cased
    sent: float


class SignIn(SQLModel, table=True):
    """A sign-in link mailed to a member (schema v10): usable once, until `expires`.
    Only a hash of the link's token is kept, so the database alone signs nobody in."""

    __tablename__ = "sign_in"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True)  # sha256 of the token, hex
    address: str = Field(index=True)  # lower-cased
    expires: float
    created: float
    used: float = 0.0  # 0: not yet


class DigestItem(SQLModel, table=True):
    """A post waiting for the list's next digest."""

    __tablename__ = "digest_item"

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mlist.id", index=True, ondelete="CASCADE")
    message_id: str = ""
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int
    created: float


class BridgeState(SQLModel, table=True):
    """One bridge's health and, for an IMAP bridge, its cursor in the mailbox (schema v6).
    The cursor moves in the transaction that queues what it covers."""

    __tablename__ = "bridge_state"

    name: str = Field(primary_key=True)
    uidvalidity: int = 0
    last_uid: int = 0
    state: str = ""  # IMAP: connected | idle | polling | disconnected ("" : never ran)
    last_error: str = ""  # also "skipped: ..." and "uidvalidity changed: ..." warnings
    last_error_at: float = 0.0
    last_message: float = 0.0  # when a message of the foreign list was last taken
    taken: int = 0  # messages of the foreign list taken in, ever
    sent: int = 0  # local posts sent out to the foreign list, ever
    updated: float = 0.0


class BridgeSent(SQLModel, table=True):
    """The fingerprint of a post as a bridge sent it, to know it when it comes back."""

    __tablename__ = "bridge_sent"

    id: int | None = Field(default=None, primary_key=True)
    bridge: str
    key: str  # bridges/fingerprint.py Fingerprint.key: date and bare subject
    author: str
    body_len: int
    body_hash: str
    message_id: str
    created: float
