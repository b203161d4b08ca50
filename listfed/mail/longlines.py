"""Lines longer than a next hop takes (RFC 5322 §2.1.1: 998 octets), re-encoded before
the node signs what it sends.

listfed takes long lines in (web mailers write a paragraph as one line), but Postfix
behind it folds any line over 998 octets on its way out, which breaks the DKIM and ARC
signatures listfed has just made, and some receivers refuse such lines. So each leaf
part with such a line (in 7bit, 8bit or binary) is re-encoded as quoted-printable, whose
lines are short: the text a reader sees is the same. Parts inside a message/rfc822 (a
wrapped original, whose bytes must stay as they are) are left alone, and so is a message
without a long line, byte for byte. Every step is linear in the message's size.
"""

from __future__ import annotations

import quopri
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

LIMIT = 998  # octets of a line, without its CRLF
MAX_PARTS = 1000  # parts looked at; a message with more is left as it is


def too_long(data: bytes) -> bool:
    return any(len(line.rstrip(b"\r")) > LIMIT for line in data.split(b"\n"))


def shortened(message: bytes) -> bytes:
    """`message` with each leaf part that has a line over 998 octets made
    quoted-printable; the same bytes when nothing needs it."""
    if not too_long(message):
        return message
    parsed = BytesParser(policy=compat32).parsebytes(message)
    changed = 0
    stack: list[Message] = [parsed]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        if part.get_content_maintype() == "message":
            continue  # a wrapped original keeps its bytes
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in payload if isinstance(p, Message))
            continue
        changed += _requoted(part)
    if not changed:
        return message
    head = compat32.clone(linesep="\r\n", max_line_length=0)
    return parsed.as_bytes(policy=head)


def _requoted(part: Message) -> int:
    encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if encoding not in ("7bit", "8bit", "binary"):
        return 0
    body = part.get_payload(decode=True)
    if not isinstance(body, bytes) or not too_long(body):
        return 0
    encoded = quopri.encodestring(body.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(encoded.decode("ascii"))
    return 1
