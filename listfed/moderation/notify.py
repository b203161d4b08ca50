"""The mail a held post causes: one notice to the moderators, with the post attached.

A moderator acts from a phone by replying: the notice comes from LIST-confirm+TOKEN
(SPEC §9), and its text offers mailto links whose Subject is the decision, for clients
where typing is awkward. The held message is attached unchanged as message/rfc822, so
a moderator can open it whole; the notice's own text carries the reason, the headers
and the start of the body, so that most decisions need no attachment at all.
"""

from __future__ import annotations

import binascii
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from listfed.listinfo import ListInfo
from listfed.mail.message import ParsedMessage
from listfed.mail.rawmail import RawMessage, crlf, encode_value

BODY_LINES = 25  # how much of the post the notice quotes
BODY_CHARS = 2000
SHOWN_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")


def notice_text(
    lst: ListInfo,
    held_id: int,
    reason: str,
    headers: list[tuple[str, str]],
    message: ParsedMessage,
    confirm: str,
    expires: str,
) -> str:
    """What the moderators read: the reason, how to act, the headers, the body's start."""
    lines = message.body_text.strip("\n").splitlines()[:BODY_LINES]
    body = "\n".join(lines)[:BODY_CHARS]
    shown = "\n".join(f"    {name}: {value}" for name, value in headers)
    return f"""\
A post to {lst.address} is waiting for a moderator (held post {held_id}).

Reason: {reason}

To act on it, reply to this message with one of these words as the first line:

    approve           send it to the list
    approve always    send it, and let this sender post without moderation from now on
    reject REASON     refuse it; the sender is told, with your reason
    discard           drop it silently

Or write to {confirm} with the word as the Subject:
    approve: mailto:{confirm}?subject=approve
    reject:  mailto:{confirm}?subject=reject
    discard: mailto:{confirm}?subject=discard

The first moderator to answer decides. {expires}
On the command line: listfed held show {held_id}

{shown}

{body}
"""


def headers_of(raw: bytes) -> list[tuple[str, str]]:
    """The headers a moderator sees, decoded, one line each."""
    msg = RawMessage.parse(raw)
    found = []
    for name in SHOWN_HEADERS:
        value = msg.get_decoded(name)
        if value and value.strip():
            found.append((name, " ".join(value.split())[:300]))
    return found


def moderator_notice(
    lst: ListInfo, to: str, subject: str, text: str, raw: bytes, confirm: str, now: float
) -> tuple[bytes, str]:
    """The notice as bytes (multipart/mixed: text, then the held post) and its Message-ID."""
    message_id = make_msgid(domain=lst.domain)[1:-1]
    boundary = f"=_listfed_{secrets.token_hex(12)}"
    held = crlf(raw)
    while boundary.encode() in held:
        boundary = f"=_listfed_{secrets.token_hex(12)}"
    fields = [
        ("From", f'"{lst.local} moderation" <{confirm}>'),
        ("To", to),
        ("Subject", encode_value(" ".join(subject.split())[:200])),
        ("Date", format_datetime(datetime.fromtimestamp(now, UTC))),
        ("Message-ID", f"<{message_id}>"),
        ("Auto-Submitted", "auto-generated"),
        ("Precedence", "list"),
        ("List-Id", f"<{lst.list_id}>"),
        ("X-Listfed-Held", lst.address),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("ascii")
    text_part = crlf(binascii.b2a_qp(text.encode("utf-8"), istext=True))
    eight_bit = any(b > 127 for b in held)
    delimiter = f"--{boundary}\r\n".encode()
    data = (
        head + b"\r\nA post is waiting for a moderator; see the first part.\r\n\r\n"
        + delimiter
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + text_part + b"\r\n"
        + delimiter
        + b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n"
        + (b"Content-Transfer-Encoding: 8bit\r\n" if eight_bit else b"")
        + b"\r\n" + held + (b"" if held.endswith(b"\r\n") else b"\r\n")
        + f"--{boundary}--\r\n".encode()
    )  # fmt: skip
    return data, message_id
