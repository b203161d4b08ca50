"""The typed object that travels through the pipeline stages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from enum import StrEnum

from listfed.listinfo import ListInfo
from listfed.lookups import Facts
from listfed.mail.message import ParsedMessage, parse
from listfed.mail.rawmail import RawMessage


class Decision(StrEnum):
    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"
    DISCARD = "discard"  # the list's own choice (nonmember_action = discard)
    DROP = "drop"  # a loop or a duplicate: logged, never answered


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str  # for humans: `held show`, logs, the poster's notice


class OriginKind(StrEnum):
    SENDER = ""  # from its sender, by SMTP or LMTP
    ROUTE = "route"  # relayed here by a route of this node
    BRIDGE = "bridge"  # taken in from a foreign list by a bridge of this node
    BRIDGED = "bridged"  # reached a bridge of this node, not proven the foreign list's


_NAMED = frozenset((OriginKind.ROUTE.value, OriginKind.BRIDGE.value, OriginKind.BRIDGED.value))


@dataclass(frozen=True)
class Origin:
    """Who put a post on its list's queue. Stored in the queue as "", "route:NAME",
    "bridge:NAME" or "bridged:NAME" (`str`); a route of a sending bridge is named
    "bridge:NAME" too."""

    kind: OriginKind = OriginKind.SENDER
    name: str = ""

    @classmethod
    def route(cls, name: str) -> Origin:
        return cls(OriginKind.ROUTE, name)

    @classmethod
    def bridge(cls, name: str) -> Origin:
        return cls(OriginKind.BRIDGE, name)

    @classmethod
    def bridged(cls, name: str) -> Origin:
        return cls(OriginKind.BRIDGED, name)

    @classmethod
    def stored(cls, value: str) -> Origin:
        """The origin a stored value names; anything unknown is the sender's own post."""
        kind, colon, name = value.partition(":")
        if colon and kind in _NAMED:
            return cls(OriginKind(kind), name)
        return cls()

    @property
    def relayed(self) -> bool:
        """Relayed here by this node (a route or a bridge), not posted by its sender."""
        return self.kind is not OriginKind.SENDER

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}" if self.relayed else ""


@dataclass
class Post:
    queue_id: int
    lst: ListInfo
    raw: bytes
    mail_from: str
    message: ParsedMessage
    received: float
    approved: bool = False
    origin: Origin = field(default_factory=Origin)
    relay_from: str = ""  # set when trusted as a relay: the list it left from
    refused_signature: str = ""  # why a relay's signature was refused (then: a sender's post)
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    thread_id: str = ""
    outgoing_data: bytes = b""
    facts: Facts = field(default_factory=Facts)  # DMARC and arrival auth, looked up before
    spooled_id: int | None = None  # the stored bytes (db/spooled.py), when raw is them as is

    def log_prefix(self) -> str:
        return f"<{self.message.message_id}> q{self.queue_id} {self.lst.address}"


def make_post(
    queue_id: int,
    lst: ListInfo,
    raw: bytes,
    mail_from: str,
    node: str,
    received: float,
    *,
    approved: bool = False,
    origin: Origin | None = None,
    message: ParsedMessage | None = None,
    spooled_id: int | None = None,
) -> Post:
    """Read `raw` as a post on `lst` (`message`: read already, off the database thread).
    A message without a Message-ID gets the generated one as a header, so that every
    copy, relay and archive entry carries the same id; one without a Date gets its
    arrival (RFC 5322 requires one; mail programs sort by it)."""
    message = message or parse(raw, mail_from, node)
    added = f"Message-ID: <{message.message_id}>\r\n" if message.generated_id else ""
    if not message.head.get_all("Date"):
        added += f"Date: {format_datetime(datetime.fromtimestamp(received, UTC))}\r\n"
    if added:  # the stages' header block carries the new fields too
        raw = added.encode() + raw
        message = dataclasses.replace(message, head=RawMessage.parse(raw))
        spooled_id = None  # raw is no longer the stored bytes
    return Post(
        queue_id=queue_id,
        lst=lst,
        raw=raw,
        mail_from=mail_from,
        message=message,
        received=received,
        approved=approved,
        origin=origin or Origin(),
        spooled_id=spooled_id,
    )


@dataclass(frozen=True)
class Incoming:
    """A message to one of a list's robot addresses (-request, -join, -leave, -confirm,
    -owner, -bounces), as the robots see it."""

    queue_id: int
    kind: str  # an addresses.Kind value
    lst: ListInfo
    raw: bytes
    mail_from: str
    detail: str  # the token of -confirm+TOKEN, the VERP part of -bounces+X
    received: float
    message: ParsedMessage
    rcpt: str = ""  # the address it was sent to (a bridge's may carry its +tag)
    facts: Facts = field(default_factory=Facts)  # for a bridge: who signed it

    def log_prefix(self) -> str:
        bridge = self.kind == "bridge"  # the address of the bridge named by detail
        where = f"bridge {self.detail}" if bridge else self.lst.sub_address(self.kind)
        return f"<{self.message.message_id}> q{self.queue_id} {where}"
