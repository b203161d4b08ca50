"""Header fields for the archive index: our own small parser for the common case (a plain
header block), and lenient readers of the few values the index needs (Content-Type
parameters with RFC 2231, References). Authors are `authors`'s, dates `dates`'s."""

from __future__ import annotations

import re
import urllib.parse
from email.message import Message

from listfed.mail.decoding import decode_8bit, decode_bytes

Fields = dict[str, list[bytes]]  # lower-case name → raw (still folded) values, in order

WANTED = frozenset(
    {
        "from",
        "subject",
        "date",
        "message-id",
        "references",
        "in-reply-to",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)
_NAME = rb"[\x21-\x39\x3b-\x7e]++:"  # the email package's notion of a header line
_PLAIN_BLOCK = re.compile(_NAME + rb"[^\n]*+(?:\n(?:" + _NAME + rb"|[ \t])[^\n]*+)*+\n?")
_WANTED_FIELD = re.compile(
    rb"^(" + b"|".join(name.encode() for name in sorted(WANTED)) + rb"):[ \t]*+"
    rb"([^\n]*+(?:\n[ \t][^\n]*+)*+)",
    re.IGNORECASE | re.MULTILINE,
)
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_PARAM = re.compile(r';\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.?)*(?:"|$)|[^;]*)', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_MSGID = re.compile(r"<([^<>\s]+)>")
MAX_REFERENCES = 100
_MAX_VALUE = 65_536  # bytes of a header value read
MAX_ADDRESS = 2_048  # characters of a From value the archive reads
_MAX_PARAMS_VALUE = 16_384
_MAX_SEGMENTS = 64


def split_message(raw: bytes) -> tuple[bytes, bytes, bool]:
    """(header block, body, whether a blank line separated them), as the email package splits."""
    if raw[:1] == b"\n" or raw[:1] == b"\r":
        return b"", raw[2:] if raw[:2] == b"\r\n" else raw[1:], True
    # The first blank line, LF or CRLF, found with two plain scans (faster than a regex).
    lf = raw.find(b"\n\n")
    crlf = raw.find(b"\n\r\n", 0, len(raw) if lf < 0 else lf + 1)
    if lf < 0 and crlf < 0:
        return raw, b"", False
    start, end = (crlf, crlf + 3) if crlf >= 0 else (lf, lf + 2)
    if start and raw[start - 1] == 13:  # the header line's own CR
        start -= 1
    return raw[:start], raw[end:], True


def read_fields(head: bytes) -> Fields | None:
    """The wanted fields of a header block; None unless every line is a plain header line
    or a continuation (after an optional mbox ``From `` line), so that odd blocks are left
    to the email package to judge."""
    if b"\r" in head and head.count(b"\r") != head.count(b"\r\n"):
        return None  # a lone CR ends a line for the email package, not for us
    if head.startswith(b"From "):
        head = head.partition(b"\n")[2]
    if head and _PLAIN_BLOCK.fullmatch(head) is None:
        return None
    fields: Fields = {}
    for match in _WANTED_FIELD.finditer(head):
        fields.setdefault(match.group(1).decode("ascii").lower(), []).append(match.group(2))
    return fields


def fields_of(part: Message) -> Fields:
    """The wanted fields of a part the email package parsed, as raw bytes again."""
    fields: Fields = {}
    for name, value in part.raw_items():
        key = name.lower()
        if key in WANTED:
            raw = str(value).encode("utf-8", errors="surrogateescape")
            fields.setdefault(key, []).append(raw)
    return fields


def text(fields: Fields, name: str, defects: list[str], *, every: bool = False) -> str:
    """A field's first value (or all, space-joined) as unfolded text; 8-bit bytes decoded."""
    values = fields.get(name)
    if not values:
        return ""
    out = []
    for whole in values if every else values[:1]:
        value = whole[:_MAX_VALUE]
        if value.isascii():
            decoded = value.decode("ascii")
        else:
            defects.append("8-bit bytes in headers")
            decoded = decode_8bit(value)
        out.append(_UNFOLD.sub("", decoded).strip())
    return " ".join(out)


def params(value: str, defects: list[str]) -> tuple[str, dict[str, str]]:
    """``type/sub; a="b"; c*=utf-8''x%20y`` → (lower-case value, lower-case names → values),
    with RFC 2231 continuations and charsets decoded."""
    head, _, rest = value[:_MAX_PARAMS_VALUE].partition(";")
    found: dict[str, str] = {}
    segments: dict[str, list[tuple[int, bool, str]]] = {}
    for match in _PARAM.finditer(";" + rest):
        name, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"'):
            raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1] if raw.endswith('"') else raw[1:])
        if "*" in name:
            base, _, tail = name.partition("*")  # name*, name*0, name*1*
            index = tail.rstrip("*")
            if (index.isdigit() or not index) and len(segments.get(base, ())) < _MAX_SEGMENTS:
                number = int(index) if index.isdigit() and len(index) < 6 else 0
                segments.setdefault(base, []).append((number, name.endswith("*"), raw))
        else:
            found.setdefault(name, raw)
    for base, parts in segments.items():
        found[base] = _rfc2231(sorted(parts), defects)
    return "".join(head.split()).lower(), found


def _rfc2231(parts: list[tuple[int, bool, str]], defects: list[str]) -> str:
    charset = ""
    data = bytearray()
    for i, (_, encoded, value) in enumerate(parts):
        if encoded and i == 0 and value.count("'") >= 2:
            charset, _, value = value.split("'", 2)
        if encoded:
            data += urllib.parse.unquote_to_bytes(value)
        else:
            data += value.encode("utf-8", errors="surrogateescape")
    return decode_bytes(bytes(data), charset or "utf-8", defects)


def message_ids(value: str) -> tuple[str, ...]:
    """The ``<id>``s of a References value, oldest first, once each; a very long chain
    keeps its root and its newest ids."""
    ids = tuple(dict.fromkeys(_MSGID.findall(value)))
    if len(ids) > MAX_REFERENCES:
        ids = (ids[0], *ids[-(MAX_REFERENCES - 1) :])
    return ids
