"""The `Received:` field for listfed's own hop (RFC 5321 §4.4), put on every message it
takes in over SMTP or LMTP, so that a message's path through the node can be read off
its header like any MTA's.

What the client said of itself (HELO) is shown only as far as it is a host name or an
address literal (letters, digits, `.-_:[]`, at most 64 characters); the rest is the
connection's own address, and the recipient when there is exactly one.
"""

from __future__ import annotations

import re
from email.utils import formatdate

_HELO = re.compile(r"[A-Za-z0-9._:\[\]-]{1,64}")


def received(
    helo: str | None,
    peer: str,
    node: str,
    protocol: str,
    recipients: list[str],
    when: float,
) -> bytes:
    """`Received: from HELO ([IP]) by NODE (listfed) with PROTOCOL [for <RCPT>]; DATE`."""
    name = helo if helo and _HELO.fullmatch(helo) else "unknown"
    where = f"[{peer}]" if peer else "unknown"
    to = f"\r\n\tfor <{recipients[0]}>" if len(recipients) == 1 and _safe(recipients[0]) else ""
    return (
        f"Received: from {name} ({where})\r\n\tby {node} (listfed) with {protocol}{to};"
        f"\r\n\t{formatdate(when, usegmt=True)}\r\n"
    ).encode("ascii", "replace")


def _safe(address: str) -> bool:
    return address.isascii() and len(address) <= 254 and not any(c in address for c in "<>\r\n ")
