"""Short messages from a list to one person: robot replies, confirmations, rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from listfed.listinfo import ListInfo


def notice(
    lst: ListInfo,
    to: str,
    subject: str,
    text: str,
    in_reply_to: str = "",
    *,
    sender: str = "",
    reply_to: str = "",
    marks: tuple[tuple[str, str], ...] = (),
    message_id: str = "",
    now: float,
) -> bytes:
    """A plain-text message from `sender` (default LIST-owner), marked so that nobody
    auto-answers it (RFC 3834) and mail filters see which list it is about."""
    msg = EmailMessage()
    msg["From"] = sender or lst.sub_address("owner")
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    msg["Message-ID"] = f"<{message_id}>" if message_id else make_msgid(domain=lst.domain)
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Precedence"] = "list"
    msg["List-Id"] = f"<{lst.list_id}>"
    for name, value in marks:
        msg[name] = value
    msg.set_content(text)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
