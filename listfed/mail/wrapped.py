"""A post that a list wrapped: the message inside, as it was wrapped. Never raises.

Mailman's DMARC mitigation `wrap_message` (Mailman 2.1 and 3) sends a post as a new
message From the list, with a new Message-ID, whose body is the post as
``message/rfc822``; the footer it adds at delivery then makes the whole a
``multipart/mixed`` of [the post, the footer]. With `dmarc_wrapped_message_text` set, a
short text part comes first: [text, the post, footer]. The post inside keeps its own
Message-ID, trace fields, From and text: that is what echo and duplicate checks judge,
and what the archive indexes.

A wrapper is, at each level: a ``message/rfc822`` message; a ``multipart/mixed`` whose
first part is one; or a ``multipart/mixed`` From its own list's address (its List-Post,
X-BeenThere or List-Id) whose second part is one after a text part. Nothing else is a
wrapper: a person who forwards a message attaches it after their own text.

Only the header blocks and the delimiter lines of the first parts are read, with our
own bounded scans (never the email package's parser), and at most `MAX_LEVELS` levels
deep: the structure is the sender's to choose.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from email.message import Message

from listfed.mail import authors, headers
from listfed.mail.decoding import decode_cte
from listfed.mail.rawmail import RawMessage, to_text

MAX_LEVELS = 4  # wrappers inside wrappers read; a deeper post is judged at that level
_PARTS_READ = 3  # delimiter lines looked for: the first two parts, and the end of the second
_MAX_BOUNDARY = 200  # RFC 2046 allows 70 characters; a longer one is not a wrapper's
_MAILTO = re.compile(r"<mailto:([^<>?\s]+)", re.IGNORECASE)
_LIST_ID = re.compile(r"<([^<>\s]+)>")
_MAX_FIELD = 2_048  # characters of a List-* field read


@dataclass(frozen=True)
class Wrapped:
    inner: bytes  # the innermost wrapped message, its transfer encoding undone
    levels: int
    # every wrapper is From its own list's address (as Mailman writes it): the author is
    # the one inside; a wrapper somebody else sent keeps its own From as the author
    by_list: bool


def unwrap(raw: bytes) -> Wrapped | None:
    """The message that `raw` wraps, through at most MAX_LEVELS wrappers; None when
    `raw` is not a wrapper."""
    try:
        return _unwrap(raw)
    except Exception:  # a wrapper we cannot read is judged as the message it is
        return None


def _unwrap(raw: bytes) -> Wrapped | None:
    current, levels, by_list = raw, 0, True
    for _ in range(MAX_LEVELS):
        msg = RawMessage.parse(current)
        found = _inside(msg)
        if found is None:
            break
        current, levels = found, levels + 1
        by_list = by_list and from_its_list(msg)
    return Wrapped(current, levels, by_list) if levels else None


def looks_wrapped(tree: Message) -> bool:
    """Whether a message the email package read has a wrapper's shape (cheap: its parts
    are read already), so that `unwrap` is worth its time."""
    ctype = tree.get_content_type()
    if ctype == "message/rfc822":
        return True
    payload = vars(tree).get("_payload")
    if ctype != "multipart/mixed" or not isinstance(payload, list):
        return False
    kinds = [p.get_content_type() for p in payload[:2] if isinstance(p, Message)]
    return "message/rfc822" in kinds


def content_type(msg: RawMessage) -> tuple[str, dict[str, str]]:
    """The lower-case type and parameters of a part; text/plain when it has none."""
    ctype, params = headers.params(msg.get_decoded("Content-Type") or "", [])
    return (ctype if ctype.count("/") == 1 else "text/plain"), params


def _inside(msg: RawMessage) -> bytes | None:
    """The message one level down, or None when `msg` wraps none."""
    ctype, params = content_type(msg)
    if ctype == "message/rfc822":
        return _payload(msg)
    boundary = params.get("boundary", "")
    if ctype != "multipart/mixed" or not 0 < len(boundary) <= _MAX_BOUNDARY:
        return None
    parts = [RawMessage.parse(p) for p in _first_parts(msg.body, boundary)]
    kinds = [content_type(p)[0] for p in parts]
    if kinds[:1] == ["message/rfc822"]:
        return _payload(parts[0])
    if kinds[:2] == ["text/plain", "message/rfc822"] and from_its_list(msg):
        return _payload(parts[1])
    return None


def _payload(part: RawMessage) -> bytes | None:
    """A message/rfc822 part's message (RFC 2046 allows no transfer encoding there; one
    is undone all the same)."""
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    inner = decode_cte(part.body, cte, [])
    return inner if inner.strip() else None


def _first_parts(body: bytes, boundary: str) -> list[bytes]:
    """The first two body parts of a multipart body (fewer when it has fewer)."""
    delimiter = re.compile(
        rb"^--" + re.escape(boundary.encode("utf-8", "surrogateescape")) + rb"(--)?[ \t]*\r?$",
        re.MULTILINE,
    )
    marks = []
    for found in delimiter.finditer(body):
        marks.append(found)
        if found.group(1) or len(marks) == _PARTS_READ:
            break
    parts = []
    for opening, closing in itertools.pairwise(marks):
        if opening.group(1):
            break
        start, end = opening.end(), closing.start()
        start += 1 if body[start : start + 1] == b"\n" else 0
        # the line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1)
        end -= 2 if body[end - 2 : end] == b"\r\n" else 1 if body[end - 1 : end] == b"\n" else 0
        parts.append(body[start : max(start, end)])
    return parts


def from_its_list(msg: RawMessage) -> bool:
    """Is the message From the address of the list it names (List-Post, X-BeenThere,
    List-Id), as a list's own wrapper or munged post is?"""
    sender = authors.author(to_text(_raw(msg.get("From") or "")))[1].lower()
    if not sender:
        return False
    for value in msg.get_all("List-Post"):
        if any(a.lower() == sender for a in _MAILTO.findall(value[:_MAX_FIELD])):
            return True
    if any(v.strip().lower() == sender for v in msg.get_all("X-BeenThere")):
        return True
    local, _, domain = sender.rpartition("@")
    ids = (i.lower() for v in msg.get_all("List-Id") for i in _LIST_ID.findall(v[:_MAX_FIELD]))
    return f"{local}.{domain}" in set(ids)


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")
