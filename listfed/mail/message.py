"""Reading a message leniently: bytes → `ParsedMessage`, never an exception.

The raw bytes stay the truth; what we read from them is for decisions, the archive and
logs. Unknown charsets, broken MIME and 8-bit headers degrade to a best effort.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from listfed.mail import mimeparse
from listfed.mail.rawmail import RawMessage

TRACE_HEADER = "X-Listfed-Trace"
SIGNATURE_HEADER = "X-Listfed-Signature"
_MSGID = re.compile(r"<([^<>\s]+)>")


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


def decode_text(value: str | None) -> str:
    """An RFC 2047 header value as text; unknown charsets and junk decode leniently."""
    if not value:
        return ""
    parts = []
    try:
        chunks = decode_header(value)
    except Exception:  # email.header raises on malformed encoded words
        return " ".join(value.split())
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
            continue
        try:
            parts.append(chunk.decode(charset or "ascii"))
        except (LookupError, UnicodeDecodeError):
            parts.append(chunk.decode("utf-8", errors="replace"))
    return " ".join("".join(parts).split())


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
    """The text a reader sees: the first text/plain part, else the first text/html part."""
    best: Message | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if ctype == "text/plain":
            best = part
            break
        if ctype == "text/html" and best is None:
            best = part
    if best is None:
        return ""
    payload = best.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = best.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    if best.get_content_type() == "text/html":
        text = re.sub(r"<[^>]*>", " ", text)
    return text


def _traces(raw: bytes) -> tuple[str, ...]:
    """Trace values as UTF-8 text (the stdlib would blank out 8-bit bytes), whitespace
    runs made one space; bytes that are not UTF-8 survive as surrogate escapes."""
    return tuple(" ".join(v.split()) for v in RawMessage.parse(raw).get_all(TRACE_HEADER))


def derived_message_id(raw: bytes, node: str) -> str:
    """A stable id for a message that has none: the same bytes always get the same id
    (the pipeline, and an archive import of the same message, agree on it)."""
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@{node}"


def parse(raw: bytes, mail_from: str = "", node: str = "localhost") -> ParsedMessage:
    """Read what the pipeline needs. A missing Message-ID gets a stable one from the bytes."""
    msg = mimeparse.parse(raw)
    mid = normalise_message_id(str(msg.get("Message-ID", "")))
    generated = not mid
    if generated:
        mid = derived_message_id(raw, node)
    try:
        addrs = getaddresses([str(msg.get("From", ""))])
    except Exception:  # getaddresses can choke on adversarial input
        addrs = []
    name, sender = addrs[0] if addrs else ("", "")
    if "@" in sender:
        local, _, domain = sender.rpartition("@")
        sender = f"{local}@{domain.lower()}"
    else:
        sender = ""
    try:
        date: float | None = parsedate_to_datetime(str(msg.get("Date", ""))).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        date = None
    try:
        text = body_text(msg)
    except Exception:  # broken MIME must not stop the archive; keep the raw, lose the text
        text = ""
    return ParsedMessage(
        message_id=mid,
        generated_id=generated,
        subject=decode_text(str(msg.get("Subject", "")) if "Subject" in msg else ""),
        sender=sender,
        sender_name=decode_text(name),
        date=date,
        references=_references(msg),
        in_reply_to=normalise_message_id(str(msg.get("In-Reply-To", ""))),
        auto_submitted=_is_auto(msg, sender, mail_from),
        traces=_traces(raw) if TRACE_HEADER in msg else (),
        signatures=tuple(" ".join(str(v).split()) for v in msg.get_all(SIGNATURE_HEADER, [])),
        list_ids=tuple(normalise_message_id(str(v)) for v in msg.get_all("List-Id", [])),
        body_text=text,
        defects=tuple(type(d).__name__ for d in msg.defects),
    )
