"""multipart/form-data (RFC 7578) as a web form POSTs it: each part's name and text.

The web face reads one-click unsubscribe POSTs with it (RFC 8058 says they SHOULD be
multipart/form-data); MIME is read here, in the one package that reads messages. The
body is a few kilobytes at most (the caller bounds it) and one level deep.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import default


def fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n"
    message = BytesParser(policy=default).parsebytes(head.encode("latin-1", "replace") + body)
    pairs = []
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and not part.is_multipart():
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            pairs.append((name, text.strip()))
    return pairs
