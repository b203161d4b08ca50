"""multipart/form-data (RFC 7578) as a web form POSTs it: each part's name and text.

The web face reads one-click unsubscribe POSTs with it (RFC 8058 says they SHOULD be
multipart/form-data); MIME is read here, in the one package that reads messages. The
body is a few kilobytes at most (the caller bounds it) and one level deep.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import default

# Characters of the request's Content-Type read; over it, the form has no fields. An honest
# one is "multipart/form-data; boundary=..." (a boundary has at most 70 characters, RFC
# 2046); the email package's reading of a long one is not linear (many parameters: 80 KB
# took 3.7 s).
MAX_CONTENT_TYPE = 1_000


def fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """(name, text) of each part; none when the type is too long or cannot be read (a few
    hundred nested comments, in it or in a part's fields, overflow the parser's recursion)."""
    if len(content_type) > MAX_CONTENT_TYPE:
        return []
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n"
    try:
        message = BytesParser(policy=default).parsebytes(head.encode("latin-1", "replace") + body)
        pairs = []
        for part in message.iter_parts() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and not part.is_multipart():
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                pairs.append((name, text.strip()))
    except RecursionError:
        return []
    return pairs
