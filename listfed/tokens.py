"""Confirmation tokens: single use, stored, and HMAC-bound to list, address, action, expiry.

A token is a random nonce followed by an HMAC (node secret) over the nonce and what it
confirms. The row says what to do; the HMAC proves the row is what we issued, so a token
cannot be stretched to another address, list, action or a later expiry. Tokens are
lower-case base32: they survive MTAs that fold the case of local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass, replace
from enum import StrEnum

from listfed.db.plain import Db, connection
from listfed.errors import ListfedError
from listfed.listinfo import DeliveryMode, ListInfo

_NONCE_BYTES = 10  # 16 base32 characters
_MAC_BYTES = 15  # 24 base32 characters


class Action(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    REGULAR = "delivery regular"  # a member's own delivery change
    DIGEST = "delivery digest"
    NOMAIL = "delivery nomail"
    MODERATE = "moderate"  # a held post; the token's address is "held:ID"

    @classmethod
    def delivery(cls, mode: DeliveryMode) -> Action:
        return cls(f"delivery {mode.value}")

    @property
    def mode(self) -> DeliveryMode | None:
        """The delivery mode a delivery change confirms; None for (un)subscribing."""
        word = self.value.removeprefix("delivery ")
        return DeliveryMode(word) if word != self.value else None


@dataclass(frozen=True)
class Token:
    """A token's stored row (the `token` table): what it confirms, until when, and when
    it was used (0: not yet)."""

    id: int
    token: str
    list_id: int
    address: str  # as given; the HMAC covers it lower-cased
    action: str
    name: str
    expires: float
    created: float
    used: float


_COLUMNS = "id, token, list_id, address, action, name, expires, created, used"


def _one(conn: sqlite3.Connection, where: str, value: str) -> Token | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM token WHERE {where} ORDER BY id DESC LIMIT 1",  # noqa: S608
        (value,),
    ).fetchone()
    return None if row is None else Token(*row)


def held_key(held_id: int) -> str:
    """What a moderation token is bound to, in place of an address."""
    return f"held:{held_id}"


class TokenRefused(ListfedError):
    """A token that is unknown, used, expired or forged; the message says which."""


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _mac(secret: str, nonce: str, list_id: int, address: str, action: str, expires: int) -> str:
    message = "\n".join(["v1", nonce, str(list_id), address.lower(), action, str(expires)])
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return _b32(digest[:_MAC_BYTES])


def issue(
    db: Db,
    secret: str,
    lst: ListInfo,
    address: str,
    action: Action,
    now: float,
    lifetime: float,
    name: str = "",
) -> str:
    """A new token asking `address` to confirm `action` on `lst`; stored, then returned."""
    if not secret:
        raise ListfedError("the node has no secret, so it cannot issue confirmation tokens")
    nonce = _b32(secrets.token_bytes(_NONCE_BYTES))
    expires = int(now + lifetime)
    token = nonce + _mac(secret, nonce, lst.id, address, action.value, expires)
    connection(db).execute(
        "INSERT INTO token (token, list_id, address, action, name, expires, created, used) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        (token, lst.id, address, action.value, name, float(expires), now),
    )
    return token


def peek(db: Db, token: str) -> Token | None:
    """The row of a token, if there is one, without checking or using it."""
    return _one(connection(db), "token = ?", token.strip().lower())


def latest(db: Db, address: str) -> Token | None:
    """The newest token bound to `address` (a held post's key), used or not."""
    return _one(connection(db), "address = ?", address)


def redeem(db: Db, secret: str, token: str, now: float) -> Token:
    """Use a token once: its row, marked used; TokenRefused says why it cannot be used."""
    value = token.strip().lower()
    row = peek(db, value)
    if row is None:
        raise TokenRefused("this confirmation code is unknown (mistyped, or already revoked)")
    nonce, mac = value[: len(value) - 24], value[len(value) - 24 :]
    expected = _mac(secret, nonce, row.list_id, row.address, row.action, int(row.expires))
    if not hmac.compare_digest(mac, expected):
        raise TokenRefused("this confirmation code is not valid")
    if row.used:
        raise TokenRefused("this confirmation code has been used already")
    if now > row.expires:
        raise TokenRefused("this confirmation code has expired; please ask again")
    connection(db).execute("UPDATE token SET used = ? WHERE id = ?", (now, row.id))
    return replace(row, used=now)


def spend(db: Db, address: str, now: float) -> None:
    """Mark every token bound to `address` (e.g. a held post's key) as used: the thing it
    was for is gone, and its id may be given to something else later."""
    connection(db).execute(
        "UPDATE token SET used = ? WHERE address = ? AND used = 0", (now, address)
    )


def purge(db: Db, now: float, keep: float = 30 * 86400.0) -> int:
    """Forget tokens that expired more than `keep` seconds ago."""
    return connection(db).execute("DELETE FROM token WHERE expires < ?", (now - keep,)).rowcount
