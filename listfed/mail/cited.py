"""What a notice about another message says of it: a list's "your post is held" or
"rejected", a bounce. Never raises.

The Message-IDs it cites: In-Reply-To and References, the Message-ID of a returned
message (message/rfc822) or of its header block (text/rfc822-headers, as a DSN returns
it), and ``Message-ID: <…>`` lines in its text (Mailman 3 appends the original as text);
its own subject and words, for a notice that names the post only by its subject
(Mailman 3's "awaits moderator approval" and "rejected" notices). The walk over its
parts is iterative and bounded, and only the first part's worth of each text is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from listfed.mail import body, mimeparse
from listfed.mail.message import decode_text, normalise_message_id

MAX_IDS = 20  # Message-IDs a notice is taken to cite
MAX_PARTS = 50  # parts looked at
MAX_TEXT = 8_000  # characters of its words kept
_SCANNED = 64 * 1024  # characters of a text part searched for Message-ID lines
_MSGID_LINE = re.compile(r"^[ \t]*Message-ID:\s{0,20}<([^<>\s]{1,250})>", re.I | re.M)
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_REFERENCES = 2_000  # characters of In-Reply-To and References read


@dataclass(frozen=True)
class Cited:
    message_ids: tuple[str, ...]
    subject: str
    text: str  # the notice's own text, not that of a message it returns
    report: bool  # a delivery status notification (multipart/report)


def cited(raw: bytes) -> Cited:
    """What `raw`, a notice, says about the message it is about."""
    try:
        return _cited(raw)
    except Exception:  # a notice we cannot read cites nothing
        return Cited((), "", "", False)


def _cited(raw: bytes) -> Cited:
    msg, whole = mimeparse.read(raw)
    own = normalise_message_id(str(msg.get("Message-ID", "")))
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        ids += _MSGID.findall(" ".join(str(v) for v in msg.get_all(name, []))[:_REFERENCES])
    stack = [msg] if whole else []
    for _ in range(MAX_PARTS):
        if not stack:
            break
        part = stack.pop()
        payload = vars(part).get("_payload")
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and isinstance(payload, list) and payload:
            ids.append(normalise_message_id(str(payload[0].get("Message-ID", ""))))
        elif isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
        elif part.get_content_maintype() == "text" or ctype == "message/rfc822-headers":
            ids += _MSGID_LINE.findall(_text(part)[:_SCANNED])
    found = tuple(dict.fromkeys(i for i in ids if i and i != own))[:MAX_IDS]
    return Cited(
        message_ids=found,
        subject=decode_text(str(msg.get("Subject", ""))),
        text=body.text(msg, attached=False)[:MAX_TEXT] if whole else "",
        report=msg.get_content_type() == "multipart/report",
    )


def _text(part: Message) -> str:
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
