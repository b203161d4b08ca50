"""Signing in to the web face, for `members` archives (SPEC §10): a link by mail, then a
session cookie.

The link's token is random and stored only as a hash, usable once, for LINK_LIFETIME.
The cookie is stateless: the address, its expiry and an HMAC (node secret) over both.
It says who the visitor is, never what they may read: the web face looks membership up
on every request, so leaving a list ends the access at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

LINK_LIFETIME = 15 * 60.0
SESSION_LIFETIME = 30 * 86400.0
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 random bytes, base64url
_COOKIE = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Redeemed:
    address: str = ""  # who is signed in; "" when the link cannot be used
    problem: str = ""  # why not, for the page


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def issue(session: Session, address: str, now: float) -> str:
    """A new sign-in link token for `address`, stored (as a hash) and returned. Links
    older than a day are swept on the way."""
    conn = session.connection()
    conn.execute(text("DELETE FROM sign_in WHERE expires < :t"), {"t": now - 86400.0})
    token = _b64(secrets.token_bytes(32))
    conn.execute(
        text(
            "INSERT INTO sign_in (digest, address, expires, created, used) "
            "VALUES (:d, :a, :e, :c, 0)"
        ),
        {"d": _digest(token), "a": address.lower(), "e": now + LINK_LIFETIME, "c": now},
    )
    return token


def _check(session: Session, token: str, now: float) -> tuple[int, str, str]:
    """(row id, address, "") for a usable link; (0, "", why not) otherwise."""
    row = None
    if _TOKEN.fullmatch(token):
        row = (
            session.connection()
            .execute(
                text("SELECT id, address, expires, used FROM sign_in WHERE digest = :d"),
                {"d": _digest(token)},
            )
            .first()
        )
    if row is None:
        return 0, "", "This sign-in link is not valid (it may have been mistyped)."
    if row.used:
        return 0, "", "This sign-in link has been used already."
    if now > row.expires:
        return 0, "", "This sign-in link has expired: ask for a new one."
    return int(row.id), str(row.address), ""


def peek(session: Session, token: str, now: float) -> str:
    """Why the link cannot be used ("" if it can), without using it."""
    return _check(session, token, now)[2]


def redeem(session: Session, token: str, now: float) -> Redeemed:
    """Use a sign-in link once: who it signs in, or why it cannot."""
    row_id, address, problem = _check(session, token, now)
    if problem:
        return Redeemed(problem=problem)
    session.connection().execute(
        text("UPDATE sign_in SET used = :t WHERE id = :i"), {"t": now, "i": row_id}
    )
    return Redeemed(address=address)


def _mac(secret: str, expires: int, address: str) -> str:
    message = "\n".join(["listfed session v1", str(expires), address.lower()])
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def cookie(secret: str, address: str, now: float) -> str:
    """The session cookie's value for `address`, valid SESSION_LIFETIME from `now`."""
    expires = int(now + SESSION_LIFETIME)
    encoded = _b64(address.lower().encode())
    return f"{expires}.{encoded}.{_mac(secret, expires, address)}"


def visitor(secret: str, value: str, now: float) -> str:
    """The address a session cookie signs in, or "" for none (absent, expired, forged)."""
    found = _COOKIE.fullmatch(value or "")
    if found is None or not secret or int(found.group(1)) < now:
        return ""
    try:
        padded = found.group(2) + "=" * (-len(found.group(2)) % 4)
        address = base64.urlsafe_b64decode(padded).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    expected = _mac(secret, int(found.group(1)), address)
    return address.lower() if hmac.compare_digest(found.group(3), expected) else ""
