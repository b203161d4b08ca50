"""What the archive's full-text index needs from a message: `extract(raw)` → `Extract`.

Built for mbox imports of 100,000 messages: a single-part message with plain header
lines never meets the email package (our own header split and body decoding); multipart,
message/* and odd header blocks go through ``email`` with the compat32 policy. Both paths
read header values and decode bodies with the same functions, so they agree.

A post that a list wrapped (`wrapped`: Mailman's DMARC `wrap_message`) is indexed by the
post inside: its text, and, where the wrapper is From the list itself, its author. The
wrapper's own Message-ID, subject, date and references place it in its thread.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from dataclasses import dataclass
from email.message import Message

from listfed.mail import authors, body, dates, headers, wrapped
from listfed.mail.body import MAX_BODY
from listfed.mail.decoding import decode_words
from listfed.mail.message import normalise_message_id
from listfed.mail.mimeparse import mime_depth, too_deep

__all__ = ["MAX_BODY", "Extract", "extract"]
MAX_DEFECTS = 50


@dataclass(frozen=True, slots=True)
class Extract:
    message_id: str  # normalised, no brackets; "" when absent
    subject: str
    sender: str  # From address, domain lower-cased; "" when none
    sender_name: str
    date: float | None
    references: tuple[str, ...]  # oldest first, no brackets
    in_reply_to: str
    body_text: str
    attachments: str  # file names joined by "\n"
    defects: tuple[str, ...]
    wrapper: bool = False  # shaped like a list's wrapper (`wrapped.looks_wrapped`)


def extract(raw: bytes, fast: bool = True, parsed: Message | None = None) -> Extract:
    """Read what the index needs from a message; never raises, whatever the bytes.

    ``fast=False`` sends every message through the email package (for tests). `parsed`
    is the email package's whole reading of these bytes when the caller has one (the
    pipeline's, see message.parse): a multipart post is then not parsed again.
    """
    try:
        found = _extract(bytes(raw), fast, parsed)
        return _unwrapped(bytes(raw), found, fast) if found.wrapper else found
    except Exception as exc:  # a message the index cannot read must not stop an import
        return Extract("", "", "", "", None, (), "", "", "", (f"unreadable: {type(exc).__name__}",))


def _extract(raw: bytes, fast: bool, parsed: Message | None) -> Extract:
    defects: list[str] = []
    if not raw:
        return Extract("", "", "", "", None, (), "", "", "", ("empty message",))
    head, rest, separated = headers.split_message(raw)
    if not separated:
        defects.append("no header/body separator")
    fields = headers.read_fields(head)
    early: list[str] = []  # what describing the top part found, reported in its turn
    top = body.describe(fields, early) if fields is not None and fast else None
    msg: Message | None = None
    if (top is None or top.ctype.startswith(body.CONTAINERS)) and parsed is not None:
        msg = parsed  # read whole already, so not too deep
        fields = headers.fields_of(msg)
    elif top is None or top.ctype.startswith(body.CONTAINERS):
        depth = mime_depth(raw)
        if too_deep(raw, depth):
            # The email package tests every line against every open boundary: nesting
            # like this would take it minutes. The body is indexed as it stands.
            defects.append(f"MIME nested too deeply ({depth} levels)")
            top = body.Part("text/x-multipart", "", "", False, "")
        else:
            try:
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                fields = headers.fields_of(msg)
            except Exception as exc:  # e.g. RecursionError on deep message/rfc822 nesting
                defects.append(f"unparseable MIME: {type(exc).__name__}")
    fields = fields or {}
    name, sender = authors.author(
        headers.text(fields, "from", defects)[: headers.MAX_ADDRESS], defects, archived=True
    )
    date_value = headers.text(fields, "date", defects)
    when = dates.date(date_value)
    if date_value and when is None:
        defects.append("unreadable date")
    if msg is None and top is not None:
        defects.extend(early)
        body_text, names = body.single(top, rest, defects)
    elif msg is None:
        body_text, names = "", []
    else:
        body_text, names = body.walk(msg, defects, unsplit=True)
    return Extract(
        message_id=normalise_message_id(headers.text(fields, "message-id", defects)),
        subject=_clean(decode_words(headers.text(fields, "subject", defects), defects)),
        sender=_clean(sender),
        sender_name=_clean(name),
        date=when,
        references=headers.message_ids(headers.text(fields, "references", defects, every=True)),
        in_reply_to=normalise_message_id(headers.text(fields, "in-reply-to", defects)),
        body_text=_clean(body_text),
        attachments=_clean("\n".join(names)),
        defects=tuple(dict.fromkeys(defects))[:MAX_DEFECTS],
        wrapper=msg is not None and wrapped.looks_wrapped(msg),
    )


def _unwrapped(raw: bytes, outer: Extract, fast: bool) -> Extract:
    """`outer` with the text (and, where a list wrapped it, the author) of the post
    inside, when `raw` is a wrapper."""
    found = wrapped.unwrap(raw)
    if found is None:
        return outer
    inner = _extract(found.inner, fast, None)
    author = (inner.sender, inner.sender_name) if found.by_list and inner.sender else None
    return dataclasses.replace(
        outer,
        body_text=inner.body_text or outer.body_text,
        sender=author[0] if author else outer.sender,
        sender_name=author[1] if author else outer.sender_name,
        wrapper=False,
    )


def _clean(value: str) -> str:
    """Text SQLite can store: NULs dropped, lone surrogates replaced."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value
