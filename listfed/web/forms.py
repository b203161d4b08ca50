"""What a form POSTs: a few url-encoded fields, read up to MAX_BODY bytes and no more
(a client sending more, or claiming to, gets 413 before it is read into memory), and
where the visitor comes from."""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request

from listfed.mail import formdata

MAX_BODY = 4096  # bytes: the forms' fields are a few dozen


async def fields(request: Request, limit: int = MAX_BODY) -> dict[str, str]:
    """The form's fields (the first of each name); 413 for a body over `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413)
    kind = request.headers.get("content-type", "")
    pairs = formdata.fields(kind, bytes(body)) if kind.lower().startswith("multipart/") else None
    if pairs is None:
        pairs = parse_qsl(body.decode("utf-8", "replace"))
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


def client_of(request: Request) -> str:
    """The visitor's address: the proxy's X-Forwarded-For when the connection comes from
    this machine (a TLS proxy in front, README), else the connection's own."""
    host = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local and forwarded:
        return forwarded.split(",")[-1].strip()[:64]
    return host
