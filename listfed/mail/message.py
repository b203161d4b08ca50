"""Reading a message leniently: bytes → `ParsedMessage`, never an exception.

What the pipeline reads of a post, once: Message-ID, author (`authors`), date, subject,
references, traces, body text (`body`), and for a post a list wrapped (`wrapped`) the
same few facts of the message inside. The raw bytes stay the truth; what we read from
them is for decisions, the archive and logs. Unknown charsets, broken MIME and 8-bit
headers degrade to a best effort.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message

from listfed.mail import authors, body, dates, mimeparse, wrapped
from listfed.mail.decoding import decode_words
from listfed.mail.rawmail import RawMessage, to_text, without

TRACE_HEADER = "X-Listfed-Trace"
SIGNATURE_HEADER = "X-Listfed-Signature"
_MSGID = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class Inner:
    """The post inside a list's wrapper (`wrapped`): what the echo, loop and duplicate
    checks judge it by, and its text."""

    raw: bytes  # as it was wrapped
    message_id: str  # "" when it has none
    traces: tuple[str, ...]
    sender: str
    by_list: bool  # the wrapper is From its own list: the author is this one
    body_text: str = ""


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str  # without angle brackets; generated when absent
    generated_id: bool
    subject: str
    sender: str  # From address, lower-case domain; "" when there is none
    sender_name: str
    date: float | None
    references: tuple[str, ...]
    in_reply_to: str
    auto_submitted: bool  # RFC 3834, Precedence bulk/junk/list, mailer-daemons: never answer
    traces: tuple[str, ...] = ()  # X-Listfed-Trace values, whitespace normalised, in order
    signatures: tuple[str, ...] = ()  # X-Listfed-Signature values
    list_ids: tuple[str, ...] = ()
    body_text: str = ""
    defects: tuple[str, ...] = field(default=())
    inner: Inner | None = None  # the wrapped post, when a list wrapped this one
    # The two readings of the bytes, made once and shared by the stages (never edited in
    # place: `editable` copies): the header block with the body, and the email package's
    # tree (for the archive's text and the attachment-type rule).
    head: RawMessage = field(default_factory=RawMessage, compare=False, repr=False)
    mime: Message | None = field(default=None, compare=False, repr=False)

    def editable(self) -> RawMessage:
        """A copy of the header block to change (decorate, a relay's copy)."""
        return self.head.copy()

    @property
    def message_ids(self) -> tuple[str, ...]:
        """Its Message-ID, and the wrapped post's when it has another one."""
        inner = self.inner.message_id if self.inner else ""
        return (
            (self.message_id, inner) if inner not in ("", self.message_id) else (self.message_id,)
        )

    @property
    def all_traces(self) -> tuple[str, ...]:
        """The wrapped post's trace entries, then the wrapper's own (the hops after it)."""
        return (self.inner.traces if self.inner else ()) + self.traces


def decode_text(value: str | None) -> str:
    """An RFC 2047 header value as text, blanks collapsed; unknown charsets and junk
    decode leniently (`decoding.decode_words` does the work)."""
    return decode_words(value, []) if value else ""


def normalise_message_id(value: str | None) -> str:
    """The first ``<id>`` of a header value, without brackets; else the stripped value."""
    if not value:
        return ""
    match = _MSGID.search(value)
    return match.group(1) if match else "".join(value.split()).strip("<>")


def _references(msg: Message) -> tuple[str, ...]:
    return tuple(_MSGID.findall(" ".join(str(v) for v in msg.get_all("References", []))))


def _is_auto(msg: Message, sender: str, mail_from: str) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    local = (mail_from or sender).partition("@")[0].lower()
    return (
        (auto != "" and not auto.startswith("no"))
        or precedence in {"bulk", "junk", "list"}
        or mail_from == ""
        or local in {"mailer-daemon", "postmaster"}
        or local.endswith("-bounces")
        or any(h in msg for h in ("X-Autoreply", "X-Autorespond"))
    )


def body_text(msg: Message) -> str:
    """The text a reader sees (`body.text`): the first inline text/plain part, else HTML
    reduced to text, else any other text."""
    return body.text(msg)


def _traces(head: RawMessage) -> tuple[str, ...]:
    """Trace values as UTF-8 text (the stdlib would blank out 8-bit bytes), whitespace
    runs made one space; bytes that are not UTF-8 survive as surrogate escapes."""
    return tuple(" ".join(v.split()) for v in head.get_all(TRACE_HEADER))


def without_signatures(raw: bytes) -> bytes:
    """`raw` without its `X-Listfed-Signature` fields, every other byte as it was. A relay
    signature is for the node it was sent to: members and archive readers never get it
    (with it they could resend the relay elsewhere as a peer's)."""
    return without(raw, SIGNATURE_HEADER)


def derived_message_id(raw: bytes, node: str) -> str:
    """A stable id for a message that has none: the same bytes always get the same id
    (the pipeline, and an archive import of the same message, agree on it)."""
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@{node}"


def read_inner(raw: bytes) -> Inner | None:
    """The post a list wrapped `raw` around, read for the checks; None when `raw` is no
    wrapper (`wrapped`)."""
    found = wrapped.unwrap(raw)
    if found is None:
        return None
    head = RawMessage.parse(found.inner)
    sender = authors.author(to_text(_raw(head.get("From") or "")))[1]
    inner_msg, whole = mimeparse.read(found.inner)
    return Inner(
        raw=found.inner,
        message_id=normalise_message_id(head.get("Message-ID")),
        traces=_traces(head),
        sender=sender,
        by_list=found.by_list,
        body_text=body.text(inner_msg) if whole else "",
    )


def message_ids_of(raw: bytes) -> tuple[str, ...]:
    """The Message-ID of `raw` and of the post it wraps, if any, from the header blocks
    alone (no parse of the whole): "is this a copy of what we have?"."""
    ids = [normalise_message_id(RawMessage.parse(raw).get("Message-ID"))]
    found = wrapped.unwrap(raw)
    if found is not None:
        ids.append(normalise_message_id(RawMessage.parse(found.inner).get("Message-ID")))
    return tuple(i for i in dict.fromkeys(ids) if i)


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def parse(raw: bytes, mail_from: str = "", node: str = "localhost") -> ParsedMessage:
    """Read what the pipeline needs. A missing Message-ID gets a stable one from the bytes."""
    msg, whole = mimeparse.read(raw)
    head = RawMessage.parse(raw)
    mid = normalise_message_id(str(msg.get("Message-ID", "")))
    generated = not mid
    if generated:
        mid = derived_message_id(raw, node)
    name, sender = authors.author(str(msg.get("From", "")))
    inner = read_inner(raw) if whole and wrapped.looks_wrapped(msg) else None
    return ParsedMessage(
        message_id=mid,
        generated_id=generated,
        subject=decode_text(str(msg.get("Subject", "")) if "Subject" in msg else ""),
        sender=sender,
        sender_name=name,
        date=dates.timestamp(str(msg.get("Date", ""))),
        references=_references(msg),
        in_reply_to=normalise_message_id(str(msg.get("In-Reply-To", ""))),
        auto_submitted=_is_auto(msg, sender, mail_from),
        traces=_traces(head) if TRACE_HEADER in msg else (),
        # read as `RawMessage` reads them: what is checked is what copies are cleared of
        signatures=tuple(" ".join(v.split()) for v in head.get_all(SIGNATURE_HEADER)),
        list_ids=tuple(normalise_message_id(str(v)) for v in msg.get_all("List-Id", [])),
        body_text=inner.body_text if inner and inner.body_text else body.text(msg),
        defects=tuple(type(d).__name__ for d in msg.defects),
        inner=inner,
        head=head,
        mime=msg if whole else None,
    )
