"""What a reader of one message sees beside its text: the files attached to it (name,
type, size) and the lists its trace says it went through. Never raises.

For the web face's post page. The walk is iterative and bounded, as in `body`: the
structure is the sender's to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from listfed.mail import headers, mimeparse
from listfed.mail.body import MAX_NAMES, MAX_PARTS, describe
from listfed.mail.decoding import decode_cte
from listfed.mail.message import TRACE_HEADER
from listfed.mail.rawmail import RawMessage
from listfed.mail.trace import parse_entry


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str  # as the sender named it, "" when unnamed
    ctype: str
    size: int  # bytes, once the transfer encoding is undone


def attachments(raw: bytes) -> list[Attachment]:
    """The parts a mail program would show as files: those with a name or marked as
    attachments, and inline parts that are not text (an image pasted into the mail)."""
    try:
        msg, whole = mimeparse.read(raw)
    except Exception:  # broken MIME has no attachments anyone can open
        return []
    return _walk(msg) if whole else []


def _walk(msg: Message) -> list[Attachment]:
    found: list[Attachment] = []
    stack = [msg]
    for _ in range(MAX_PARTS):
        if not stack or len(found) >= MAX_NAMES:
            break
        node = stack.pop()
        payload = vars(node).get("_payload")
        if isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            continue
        part = describe(headers.fields_of(node), [])
        is_file = part.attachment or part.filename or not part.ctype.startswith("text/")
        if not is_file or not isinstance(payload, str):
            continue
        data = payload.encode("utf-8", errors="surrogateescape")
        size = len(decode_cte(data, part.cte, []))
        found.append(Attachment(part.filename, part.ctype, size))
    return found


def relayed_through(raw: bytes) -> list[str]:
    """The list addresses named by the message's X-Listfed-Trace headers, oldest first,
    each once: the lists a relayed post also went to."""
    try:
        values = RawMessage.parse(raw).get_all(TRACE_HEADER)
    except Exception:
        return []
    lists: dict[str, None] = {}
    for value in values:
        entry = parse_entry(" ".join(value.split()))
        if entry is not None:
            lists.setdefault(entry.list.lower())
    return list(lists)
