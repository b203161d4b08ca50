"""A raw header-block editor: change a few header fields, keep every other byte.

The stdlib generator refolds headers and may re-encode bodies, which breaks DKIM and
signed parts. Here untouched fields and the body pass through as they came, except that
line endings always leave as CRLF. Parsing never raises, whatever the bytes.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from listfed.mail import decoding

MAX_LINE = 78  # RFC 5322's "SHOULD" line length, used when folding fields we write
_ENCODED_MAX = 75  # RFC 2047's limit for one encoded word
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is folding whitespace, kept
_BLANKS = re.compile(r"([ \t]+)")
_CHUNK = re.compile(r"[ \t]*[^ \t]+")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def crlf(data: bytes) -> bytes:
    """`data` with every bare LF turned into CRLF (a bare CR is not a line ending)."""
    if data.count(b"\n") == data.count(b"\r\n"):  # no bare LF: most mail, read in C
        return data
    return _BARE_LF.sub(b"\r\n", data)


def to_text(data: bytes, charset: str | None = None) -> str:
    """Bytes as text in `charset` if that works, else UTF-8, else Latin-1: never raises."""
    for codec in (charset, "utf-8"):
        if not codec:
            continue
        try:
            return data.decode(codec)
        except (LookupError, ValueError):  # unknown or non-text codec, or bytes not in it
            pass
    return data.decode("latin-1")


def _clean(value: str) -> str:
    """`value` without surrogates (which `get` yields for undecodable bytes)."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        return to_text(value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a lone surrogate that did not come from bytes
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def decode_words(value: bytes) -> str:
    """An unfolded header value as text: 8-bit bytes and RFC 2047 encoded words decoded
    leniently, blanks kept (`decoding.decode_words` does the work)."""
    return decoding.decode_words(decoding.decode_8bit(value), [], collapse=False)


def _encoded(data: bytes, q: bool) -> str:
    if not q:
        return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="
    text = "".join(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in data)
    return f"=?utf-8?q?{text}?="


def encode_words(text: str) -> str:
    """`text` as RFC 2047 UTF-8 encoded words (Q or B, whichever is shorter)."""
    text = _clean(text)
    raw = text.encode("utf-8")
    q = sum(1 if b in _Q_SAFE or b == 0x20 else 3 for b in raw) <= (len(raw) + 2) // 3 * 4
    words: list[str] = []
    chunk = b""
    for char in text:
        more = chunk + char.encode("utf-8")
        if chunk and len(_encoded(more, q)) > _ENCODED_MAX:
            words.append(_encoded(chunk, q))
            more = char.encode("utf-8")
        chunk = more
    if chunk or not words:
        words.append(_encoded(chunk, q))
    return " ".join(words)


def encode_value(value: str) -> str:
    """A header value safe to write: one line, non-ASCII words as encoded words."""
    value = _CONTROL.sub(" ", _clean(value)).strip()
    if value.isascii():
        return value
    pieces = _BLANKS.split(value)  # words at even indexes, the blanks between at odd
    out: list[str] = []
    run: list[str] = []  # adjacent non-ASCII words: the blanks between them are encoded
    for i in range(0, len(pieces), 2):
        word, gap = pieces[i], pieces[i - 1] if i else ""
        if not word.isascii():
            if run:
                run += [gap, word]
            else:
                out.append(gap)
                run = [word]
            continue
        if run:
            out.append(encode_words("".join(run)))
            run = []
        out += [gap, word]
    if run:
        out.append(encode_words("".join(run)))
    return "".join(out)


def fold(name: str, value: str) -> bytes:
    """`Name: value` (already ASCII) folded at blanks to about 78 characters, CRLF."""
    lines: list[str] = []
    line = f"{name}:"
    for i, chunk in enumerate(_CHUNK.findall(value)):
        if i == 0:
            line += " " + chunk.lstrip()
        elif len(line) + len(chunk) > MAX_LINE:
            lines.append(line)
            line = chunk
        else:
            line += chunk
    lines.append(line)
    return "\r\n".join(lines).encode("utf-8")


def _stray_lines(raw: bytes) -> int:
    """Where the header block starts: after continuation lines that come before any field,
    when a field follows them (else 0: the message has no header, and its body starts
    with an indented line).

    Such a line continues nothing. Mail programs, and the email package, drop it and read
    the fields after it; a copy we send keeps its From, Date and Message-ID as headers
    instead of burying them in the body (where the receiving MTA would invent new ones).
    """
    pos = 0
    while pos < len(raw) and raw[pos] in b" \t":
        newline = raw.find(b"\n", pos)
        if newline < 0:
            return 0
        pos = newline + 1
    return pos if pos and _FIELD_NAME.match(raw, pos) else 0


def _value(raw: bytes) -> bytes:
    return _FOLD.sub(b"", raw).partition(b":")[2].strip()


def _spans(raw: bytes) -> tuple[list[tuple[str, int, int, int]], int]:
    """Each field as (name, start, end of its text, start of the line after it), and
    where the body starts: the reading `RawMessage.parse` and `without` share."""
    spans: list[tuple[str, int, int, int]] = []
    name, start, end = "", -1, -1  # the field being read is raw[start:end]
    pos, body = _stray_lines(raw), len(raw)
    while pos < len(raw):
        newline = raw.find(b"\n", pos)
        stop = len(raw) if newline < 0 else newline
        content_end = stop - 1 if stop > pos and raw[stop - 1] == 0x0D else stop
        if content_end == pos:
            body = min(stop + 1, len(raw))
            break
        if raw[pos] in b" \t" and start >= 0:
            end = content_end
        else:
            match = _FIELD_NAME.match(raw, pos)
            if match is None:  # no blank line: the body starts here (as in the stdlib)
                body = pos
                break
            if start >= 0:
                spans.append((name, start, end, pos))
            name, start, end = match.group(1).decode("ascii"), pos, content_end
        pos = stop + 1
    if start >= 0:
        spans.append((name, start, end, min(pos, body)))
    return spans, body


def without(raw: bytes, name: str) -> bytes:
    """`raw` without its header fields called `name`; every other byte as it was."""
    key = name.lower()
    cuts = [(start, after) for n, start, _, after in _spans(raw)[0] if n.lower() == key]
    kept, pos = [], 0
    for start, after in cuts:
        kept.append(raw[pos:start])
        pos = after
    return b"".join([*kept, raw[pos:]]) if cuts else raw


@dataclass
class RawMessage:
    """Header fields as (name, raw bytes incl. continuation lines), in order, and the body."""

    fields: list[tuple[str, bytes]] = field(default_factory=list)
    body: bytes = b""

    def copy(self) -> RawMessage:
        """A copy to change: the field list is new, the fields and body are shared bytes."""
        return RawMessage(list(self.fields), self.body)

    @classmethod
    def parse(cls, raw: bytes) -> RawMessage:
        """Split at the first empty line, or at the first line that is not a header.
        Continuation lines before the first field are dropped (see `_stray_lines`)."""
        spans, body = _spans(raw)
        return cls([(name, raw[start:end]) for name, start, end, _ in spans], raw[body:])

    def _raw_values(self, name: str) -> list[bytes]:
        key = name.lower()
        return [_value(raw) for n, raw in self.fields if n.lower() == key]

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, unfolded; undecodable bytes as surrogate escapes."""
        return [v.decode("utf-8", "surrogateescape") for v in self._raw_values(name)]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def get_all_decoded(self, name: str) -> list[str]:
        """Every value of `name` as text: RFC 2047 decoded, 8-bit bytes leniently."""
        return [decode_words(v) for v in self._raw_values(name)]

    def get_decoded(self, name: str) -> str | None:
        """The first value of `name` as text: RFC 2047 decoded, 8-bit bytes leniently."""
        values = self._raw_values(name)
        return decode_words(values[0]) if values else None

    def remove(self, *names: str) -> int:
        """Drop every field called by one of `names`; how many there were."""
        keys = {name.lower() for name in names}
        kept = [(n, raw) for n, raw in self.fields if n.lower() not in keys]
        count = len(self.fields) - len(kept)
        self.fields = kept
        return count

    def append(self, name: str, value: str) -> None:
        self.fields.append((name, fold(name, encode_value(value))))

    def replace(self, name: str, value: str) -> None:
        """Set `name` to `value` where its first field was (at the end if none)."""
        key = name.lower()
        at = next((i for i, (n, _) in enumerate(self.fields) if n.lower() == key), None)
        self.remove(name)
        new = (name, fold(name, encode_value(value)))
        self.fields.insert(len(self.fields) if at is None else at, new)

    def to_bytes(self) -> bytes:
        """The message with CRLF line endings throughout, ending in CRLF."""
        head = b"".join(crlf(raw) + b"\r\n" for _, raw in self.fields)
        body = crlf(self.body)
        if body and not body.endswith(b"\r\n"):
            body += b"\r\n"
        return head + b"\r\n" + body
