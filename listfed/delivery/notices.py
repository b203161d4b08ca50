"""Short messages from a list to one person (a rejection now; more robots later)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from listfed.listinfo import ListInfo


def notice(lst: ListInfo, to: str, subject: str, text: str, in_reply_to: str = "") -> bytes:
    """A plain-text message from LIST-owner, marked so that nobody auto-answers it."""
    msg = EmailMessage()
    msg["From"] = lst.sub_address("owner")
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=lst.domain)
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Precedence"] = "list"
    msg["List-Id"] = f"<{lst.list_id}>"
    msg.set_content(text)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
