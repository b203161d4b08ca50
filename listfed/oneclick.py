"""One-click unsubscribe (RFC 8058, SPEC §10): the token in a member's
`List-Unsubscribe: <BASE/u/TOKEN>` URL.

TOKEN is ``LIST_ID.MEMBER_ID.MAC``: the MAC (HMAC-SHA256 of the node secret, 80 bits,
base32) binds the list, the member's row and its address, so a forged or altered token
names nobody, a token of a member who left and joined again (a new row) does nothing,
and the URL shows no address. Nothing is stored: checking a token is reading one row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

_MAC_BYTES = 10
_TOKEN = re.compile(r"([0-9]{1,12})\.([0-9]{1,12})\.([a-z2-7]{16})")
POST_BODY = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class Token:
    list_id: int
    member_id: int
    mac: str


def _mac(secret: str, list_id: int, member_id: int, address: str) -> str:
    said = f"listfed one-click\n{list_id}\n{member_id}\n{address.lower()}"
    digest = hmac.new(secret.encode(), said.encode(), hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.b32encode(digest).decode().rstrip("=").lower()


def make(secret: str, list_id: int, member_id: int, address: str) -> str:
    return f"{list_id}.{member_id}.{_mac(secret, list_id, member_id, address)}"


def read(text: str) -> Token | None:
    """The parts of a token, or None when it is not one (nothing else is looked at)."""
    found = _TOKEN.fullmatch(text.strip().lower())
    if found is None:
        return None
    return Token(int(found.group(1)), int(found.group(2)), found.group(3))


def valid(secret: str, token: Token, address: str) -> bool:
    """Is it the token of this list's member row with this address? (constant time)"""
    expected = _mac(secret, token.list_id, token.member_id, address)
    return hmac.compare_digest(expected.encode(), token.mac.encode())


def headers(base_url: str, token: str, leave: str) -> bytes:
    """The two fields of RFC 8058 for one member's copy, CRLF-ended."""
    url = f"{base_url.rstrip('/')}/u/{token}"
    return (
        f"List-Unsubscribe: <{url}>, <mailto:{leave}>\r\nList-Unsubscribe-Post: {POST_BODY}\r\n"
    ).encode("ascii")
