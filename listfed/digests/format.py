"""Building one digest message from raw posts: pure functions, bytes in, bytes out.

The MIME digest is assembled byte by byte, not by the stdlib generator: each post goes in
as it came (minus trace and authentication fields), so signed parts still verify and
8-bit text is not re-encoded. The plain digest (RFC 1153) holds each post's text only.
Neither builder raises on bad posts; an unreadable post is listed as well as it can be.
"""

from __future__ import annotations

import binascii
import re
import secrets
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid

from listfed.delivery.decorate import footer_text, list_headers
from listfed.listinfo import ListInfo
from listfed.mail import authors, mimeparse
from listfed.mail.message import SIGNATURE_HEADER, TRACE_HEADER, body_text, normalise_message_id
from listfed.mail.rawmail import RawMessage, crlf, to_text

REMOVED = (
    "Received", "Return-Path", "X-Original-To", "Delivered-To", "DKIM-Signature",
    "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results",
    "Authentication-Results", TRACE_HEADER, SIGNATURE_HEADER,
)  # fmt: skip
NO_SUBJECT = "(no subject)"
UNKNOWN_SENDER = "(unknown sender)"
TOC_RULE = "-" * 70  # RFC 1153: after the table of contents
MESSAGE_RULE = "-" * 30  # RFC 1153: between messages; never left as is inside a post
MAX_LINE_BYTES = 998  # RFC 5322; longer lines make a text body quoted-printable
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322 specials: a name with one is quoted


@dataclass(frozen=True)
class _Post:
    raw: bytes  # what goes into the digest: CRLF throughout, ending in CRLF
    subject: str
    author: str  # "Name <addr>", "addr" or UNKNOWN_SENDER
    date: str
    message_id: str  # "<id>" or ""


def digest_subject(lst: ListInfo, issue: int) -> str:
    """The digest's Subject, e.g. ``team digest, issue 3``."""
    return f"{lst.local} digest, issue {issue}"


def mime_digest(lst: ListInfo, issue: int, posts: Sequence[bytes], when: datetime) -> bytes:
    """One multipart/digest message holding `posts` (raw RFC 5322 bytes, oldest first)."""
    read = [_read(post) for post in posts]
    parts = [_text_part(_toc(lst, issue, read))]
    for post in read:
        head = b"Content-Type: message/rfc822\r\n"
        if not post.raw.isascii():  # RFC 2046: message/rfc822 is 7bit unless it says so
            head += b"Content-Transfer-Encoding: 8bit\r\n"
        parts.append(head + b"\r\n" + post.raw)
    footer = _lines(footer_text(lst))
    if footer:
        parts.append(_text_part(footer))
    boundary = _boundary(parts)
    delimiter = b"--" + boundary
    # Every part ends in CRLF; the CRLF added after it belongs to the next delimiter.
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
    body += delimiter + b"--\r\n"
    content_type = f'multipart/digest; boundary="{boundary.decode("ascii")}"'
    return _head(lst, issue, when, content_type, "7bit" if body.isascii() else "8bit") + body


def plain_digest(lst: ListInfo, issue: int, posts: Sequence[bytes], when: datetime) -> bytes:
    """The same digest as one text/plain message in RFC 1153 style."""
    read = [_read(post) for post in posts]
    lines = [*_escaped(_toc(lst, issue, read)), "", TOC_RULE, ""]
    for number, post in enumerate(read, 1):
        lines.append(f"Message: {number}")
        for name, value in (
            ("Date", post.date),
            ("From", post.author),
            ("Subject", post.subject),
            ("Message-ID", post.message_id),
        ):
            if value:
                lines += textwrap.wrap(
                    f"{name}: {value}", 78, subsequent_indent="    ",
                    break_long_words=False, break_on_hyphens=False,
                )  # fmt: skip
        lines += ["", *_escaped(_lines(_text_of(post.raw))), "", MESSAGE_RULE, ""]
    footer = _lines(footer_text(lst))
    if footer:
        lines += [*_escaped(footer), "", MESSAGE_RULE, ""]
    end = f"End of {digest_subject(lst, issue)}"
    lines += [end, "*" * len(end)]
    cte, body = _encode_text(lines)
    return _head(lst, issue, when, 'text/plain; charset="utf-8"', cte) + body


def _read(post: bytes) -> _Post:
    """What the digest shows of a post; whatever cannot be read is left out or a default."""
    msg = RawMessage.parse(post)
    has_header = bool(msg.fields)
    for name in REMOVED:
        msg.remove(name)
    if has_header:
        raw = msg.to_bytes()
    else:  # no header at all: the bytes as they are
        raw = crlf(post)
        raw += b"" if raw.endswith(b"\r\n") else b"\r\n"
    subject = _oneline(msg.get_decoded("Subject") or "") or NO_SUBJECT
    message_id = normalise_message_id(_oneline(msg.get_decoded("Message-ID") or ""))
    return _Post(
        raw=raw,
        subject=subject,
        author=_author(msg.get("From")),
        date=_oneline(msg.get_decoded("Date") or ""),
        message_id=f"<{message_id}>" if message_id else "",
    )


def _author(value: str | None) -> str:
    """``Name <addr>`` from a From value (8-bit bytes as surrogate escapes)."""
    if not value:
        return UNKNOWN_SENDER
    name, addr = authors.author(to_text(value.encode("utf-8", "surrogateescape")))
    name, addr = _oneline(name), _oneline(addr)
    if "@" not in addr:
        return UNKNOWN_SENDER
    if not name:
        return addr
    if _SPECIALS.search(name):  # so that "Doe, Jane" stays one name, as in a header
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


def _oneline(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _text_of(raw: bytes) -> str:
    try:
        return body_text(mimeparse.parse(raw))
    except Exception:  # broken MIME: the post is listed, its text is lost
        return ""


def _lines(text: str) -> list[str]:
    """`text` as lines, without leading and trailing blank lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd").split("\n")
    # where the first line with text is (popping from the front, line by line, was
    # quadratic in a body of many blank lines)
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    del lines[:first]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _escaped(lines: list[str]) -> list[str]:
    """Lines that a digest reader would take for the message separator, indented by one."""
    return [f" {line}" if line.rstrip() == MESSAGE_RULE else line for line in lines]


def _toc(lst: ListInfo, issue: int, posts: Sequence[_Post]) -> list[str]:
    """The RFC 1153 table of contents, with how to post, leave and reply."""
    lines = [digest_subject(lst, issue)]
    description = _oneline(lst.description)
    if description:
        lines.append(description)
    lines += ["", "Today's Topics:", ""]
    for number, post in enumerate(posts, 1):
        author = post.author if post.author == UNKNOWN_SENDER else f"({post.author})"
        entry = f"{number:4d}. {post.subject} {author}"
        lines += textwrap.wrap(entry, 72, subsequent_indent=" " * 6)
    return [
        *lines,
        "",
        f"To post, write to {lst.address}.",
        "To leave the list or change your delivery,",
        f"write to {lst.sub_address('request')} with the word help.",
        "When replying, please edit your Subject line so it is more specific",
        f'than "Re: {digest_subject(lst, issue)}".',
    ]


def _encode_text(lines: Sequence[str]) -> tuple[str, bytes]:
    """A UTF-8 text body with CRLF and its transfer encoding: 7bit, 8bit or, when a line
    is too long for those, quoted-printable."""
    data = "".join(f"{line}\r\n" for line in lines).encode("utf-8", "replace")
    if any(len(line) > MAX_LINE_BYTES for line in data.split(b"\r\n")):
        return "quoted-printable", crlf(binascii.b2a_qp(data, istext=True))
    return ("7bit" if data.isascii() else "8bit"), data


def _text_part(lines: Sequence[str]) -> bytes:
    cte, data = _encode_text(lines)
    head = f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return head.encode("ascii") + b"\r\n" + data


def _boundary(parts: Sequence[bytes]) -> bytes:
    """A random boundary that occurs in none of `parts`."""
    while True:
        boundary = f"=_listfed_digest_{secrets.token_hex(16)}".encode("ascii")
        if not any(boundary in part for part in parts):
            return boundary


def _head(lst: ListInfo, issue: int, when: datetime, content_type: str, cte: str) -> bytes:
    """The digest's header fields and the empty line after them."""
    msg = RawMessage()
    msg.append("From", lst.sub_address("request"))
    msg.append("To", lst.address)
    msg.append("Subject", digest_subject(lst, issue))  # encoded words if not ASCII
    msg.append("Date", format_datetime(when))
    msg.append("Message-ID", make_msgid(domain=lst.domain))
    msg.append("MIME-Version", "1.0")
    msg.append("Content-Type", content_type)
    msg.append("Content-Transfer-Encoding", cte)
    for name, value in list_headers(lst):
        msg.append(name, value)
    return msg.to_bytes()
