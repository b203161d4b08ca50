"""Streaming mbox reading (mboxo, mboxrd, pipermail, HyperKitty, Takeout) and mboxrd writing.

The reader holds one message at a time, never the file: lines come from a buffered
reader over the file (gunzipped when its magic bytes say so). A damaged entry is
reported with its number and reading goes on, so one bad message does not stop the
import of a 500 MB archive.
"""

from __future__ import annotations

import gzip
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

from listfed.errors import ListfedError
from listfed.mail.dates import timestamp

MAX_MESSAGE = 64 * 1024 * 1024
# Lines are read at most this long, so binary junk without newlines stays bounded too.
_PIECE = 1024 * 1024

_MONTHS = b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# asctime as mbox writers use it: "Mon Mar  4 10:00:00 2019", Takeout puts "+0000" before
# the year, some writers a zone name or an offset after it.
_ASCTIME = re.compile(
    rb"(?<=\s)(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(" + b"|".join(_MONTHS) + rb") +(\d{1,2})"
    rb" +(\d{1,2}):(\d\d)(?::(\d\d))? +(?:([+-]\d{4}|[A-Z]{1,5}) +)?(\d{4})"
    rb"(?: +([+-]\d{4}|[A-Z]{1,5}))?\s*$"
)
# After a blank line any "From " line with a time and a year will do (RFC 2822 dates, odd
# spacing); "From my point of view, ..." has neither.
_LOOSE = re.compile(rb"From (?=.*?\d:\d\d)(?=.*?(?<!\d)(?:19|20)\d\d(?!\d))")
_QUOTED = re.compile(rb">+From ")
_ESCAPE = re.compile(rb"^(?=>*From )", re.MULTILINE)
_UNESCAPE = re.compile(rb"^>(?=>*From )", re.MULTILINE)
_HEADER = re.compile(rb"[!-9;-~]+[ \t]*:|[ \t]")
_OBFUSCATED = re.compile(r"(\S+) at (\S+)")


class MboxError(ListfedError):
    """The file cannot be opened, or is not an mbox at all."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of an mbox, or the report of a damaged one (error set, raw empty)."""

    number: int  # 1-based position in the file
    offset: int  # byte offset of its "From " line in the (decompressed) stream
    raw: bytes  # the message, unescaped; b"" when damaged
    envelope_sender: str  # from the From_ line, "" if none
    envelope_date: float | None  # the From_ line's date as unix seconds, None if unparseable
    error: str = ""  # why the entry was skipped, "" when fine


def read_mbox(path: Path, *, max_size: int = MAX_MESSAGE) -> Iterator[Entry]:
    """Entries of an mbox file, plain or gzipped (told by its magic bytes, not its name).

    Raises MboxError (on first iteration) if the file cannot be opened or is not an mbox.
    """
    with ExitStack() as stack:
        try:
            plain = stack.enter_context(path.open("rb"))
            gzipped = plain.peek(2)[:2] == b"\x1f\x8b"
        except OSError as exc:
            raise MboxError(f"{path}: cannot open: {exc.strerror or exc}") from exc
        stream: BinaryIO = plain
        if gzipped:
            stream = cast(BinaryIO, stack.enter_context(gzip.GzipFile(fileobj=plain, mode="rb")))
        yield from read_stream(stream, max_size=max_size, name=str(path))


def read_stream(
    stream: BinaryIO, *, max_size: int = MAX_MESSAGE, name: str = "<stream>"
) -> Iterator[Entry]:
    """Entries of an mbox read from a binary stream; see read_mbox."""
    number = pos = size = offset = 0
    sender, date = "", None
    parts: list[bytes] = []
    blank = line_start = True  # the start of the file counts as after a blank line
    try:
        for piece in iter(partial(stream.readline, _PIECE), b""):
            pos += len(piece)
            if line_start and piece.startswith(b"From ") and (env := _separator(piece, blank)):
                if number:
                    yield _finish(number, offset, sender, date, parts, size, max_size)
                number, offset, parts, size = number + 1, pos - len(piece), [], 0
                sender, date = env
            elif number:
                if line_start and piece.startswith(b">") and _QUOTED.match(piece):
                    piece = piece[1:]
                size += len(piece)
                if size <= max_size:
                    parts.append(piece)
                elif parts:
                    parts = []  # too large: count the rest of its bytes, keep none
            elif piece.strip():
                raise MboxError(
                    f"{name}: not an mbox file: it should start with a 'From ' separator "
                    f"line, not {piece[:60]!r}"
                )
            blank = line_start and (piece == b"\n" or piece == b"\r\n")
            line_start = piece.endswith(b"\n")
    except (EOFError, OSError, zlib.error) as exc:
        # A truncated or corrupt gzip stream (or a failing disk): report, do not raise.
        why = f"file ends early or cannot be read at byte {pos}: {exc}"
        yield Entry(number or 1, offset, b"", sender, date, why)
        return
    if number:
        yield _finish(number, offset, sender, date, parts, size, max_size)


def _separator(line: bytes, after_blank: bool) -> tuple[str, float | None] | None:
    """The (sender, date) of a From_ line, or None if the line is not a separator."""
    strict = _ASCTIME.search(line, 5)
    if strict:
        sender = line[5 : strict.start()].strip()
        return _sender(sender), _asctime_seconds(strict)
    if not (after_blank and _LOOSE.match(line)):
        return None
    token, _, rest = line[5:].strip().partition(b" ")
    return _sender(token), timestamp(rest.decode("ascii", "replace"))


def _sender(token: bytes) -> str:
    sender = token.decode("utf-8", "replace")
    # pipermail writes "alice at example.org"; the envelope address is meant.
    obfuscated = _OBFUSCATED.fullmatch(sender)
    return f"{obfuscated[1]}@{obfuscated[2]}" if obfuscated else sender


def _asctime_seconds(match: re.Match[bytes]) -> float | None:
    month, day, hour, minute, second, zone, year, zone_after = match.groups()
    try:
        when = datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    seconds = when.timestamp()
    offset = zone or zone_after or b""
    if offset[:1] in (b"+", b"-") and len(offset) == 5:  # a zone name is taken as UTC
        sign = -1 if offset[:1] == b"-" else 1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)
    return seconds


def _finish(
    number: int,
    offset: int,
    sender: str,
    date: float | None,
    parts: list[bytes],
    size: int,
    max_size: int,
) -> Entry:
    if size > max_size:
        return Entry(number, offset, b"", sender, date, f"message over {max_size} bytes")
    if parts and (parts[-1] == b"\n" or parts[-1] == b"\r\n"):
        parts.pop()  # the blank line that separates entries is not the message's
    first = parts[0] if parts else b""
    if not first:
        error = "empty entry"
    elif first == b"\n" or first == b"\r\n":
        error = "no headers"
    elif not _HEADER.match(first):
        error = f"not a mail message (line 1: {first[:60]!r})"
    else:
        return Entry(number, offset, b"".join(parts), sender, date)
    return Entry(number, offset, b"", sender, date, error)


def mboxrd_escape(raw: bytes) -> bytes:
    """Quote every line matching ^>*From with one more '>'."""
    return _ESCAPE.sub(b">", raw)


def mboxrd_unescape(body: bytes) -> bytes:
    """Undo mboxrd_escape: every line matching ^>+From loses one '>'."""
    return _UNESCAPE.sub(b"", body)


def write_entry(out: BinaryIO, raw: bytes, envelope_sender: str, date: float) -> None:
    """Write one mboxrd entry: From_ line, quoted message, a blank line.

    read_mbox gives back exactly `raw`, except for a message whose last line has no line
    ending: the one '\\n' added here stays.
    """
    # A From_ line has one sender token: whitespace in it would move the date.
    sender = "_".join(envelope_sender.split()) or "MAILER-DAEMON"
    stamp = time.asctime(time.gmtime(date))
    out.write(f"From {sender} {stamp}\n".encode())
    body = mboxrd_escape(raw)
    out.write(body)
    if not body.endswith(b"\n"):
        out.write(b"\n")
    out.write(b"\n")
