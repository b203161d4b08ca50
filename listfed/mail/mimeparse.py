"""Parsing mail with the email package without handing it what would take it minutes.

The email package tests every line against every open multipart boundary: a post with a
few hundred nested multiparts and many lines keeps it busy for seconds to minutes (900
levels and 1 MB: 21 s), on the thread that runs the pipeline. Such a message is read
for its headers only; its parts stay unread (and a list that inspects part types holds
it, see policy.part_types).
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from email.message import Message
from email.parser import BytesHeaderParser

MAX_DEPTH = 20  # nested multiparts the email package is given
_MAX_DEPTH_LINES = 3_000_000  # nesting × lines: about half a second of its time
_MIME_MARKS = re.compile(
    rb'boundary\*?\d*\*?[ \t]*=[ \t]*(?:"([^"\r\n]*)"|([^\s;"]+))|^--([^\r\n]+)--[ \t]*\r?$',
    re.IGNORECASE | re.MULTILINE,
)


def mime_depth(raw: bytes) -> int:
    """How many multipart boundaries are open at once, at most (an estimate that errs
    high); 0 when too few are declared to matter."""
    if raw.lower().count(b"boundary") <= MAX_DEPTH:  # cheap, and the usual answer
        return 0
    open_: list[bytes] = []
    lowest: dict[bytes, int] = {}  # each open boundary's first place in open_
    deepest = 0
    for match in _MIME_MARKS.finditer(raw):
        declared = match.group(1) if match.group(1) is not None else match.group(2)
        if declared is not None:
            lowest.setdefault(declared, len(open_))
            open_.append(declared)
            deepest = max(deepest, len(open_))
        elif (at := lowest.get(match.group(3))) is not None:
            # closed with all opened after it (a search of open_ per closing line was
            # quadratic: many declarations, then many lines closing none of them)
            while len(open_) > at:
                gone = open_.pop()
                if lowest[gone] == len(open_):
                    del lowest[gone]
    return deepest


def too_deep(raw: bytes, depth: int | None = None) -> bool:
    """Whether the email package (or anything built on it, such as mail-parser) would
    take seconds to minutes over this message."""
    depth = mime_depth(raw) if depth is None else depth
    return depth > MAX_DEPTH or depth * raw.count(b"\n") > _MAX_DEPTH_LINES


def parse(raw: bytes) -> Message:
    """`email.message_from_bytes` (compat32), or the headers alone when too deep."""
    return read(raw)[0]


def read(raw: bytes) -> tuple[Message, bool]:
    """As `parse`, and whether the message was read whole (False: headers alone)."""
    if too_deep(raw):
        return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw), False
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32), True
    except RecursionError:
        # message/rfc822 inside message/rfc822, hundreds deep (no boundaries for
        # `mime_depth` to count): the parser recursed to Python's limit, once
        return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw), False


def mime_defects(raw: bytes) -> list[str]:
    """mail-parser's defect report (it logs what it cannot handle: kept quiet here)."""
    if too_deep(raw):
        return []  # our own reading has reported "MIME nested too deeply" already
    import mailparser

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    try:
        parsed = mailparser.parse_from_bytes(raw)
    except Exception as exc:  # a parser of last resort may fail on anything
        return [f"mail-parser could not read it: {type(exc).__name__}"]
    found: list[str] = []
    for entry in parsed.defects or []:
        for where, problems in dict(entry).items():
            found += [f"{where}: {p}" for p in problems]
    return found
