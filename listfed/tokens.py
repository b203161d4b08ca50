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
from enum import StrEnum

from sqlalchemy import text
from sqlmodel import Session, col, select

from listfed.db.models import Token
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
    session: Session,
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
    session.add(
        Token(
            token=token,
            list_id=lst.id,
            address=address,
            action=action.value,
            name=name,
            expires=float(expires),
            created=now,
        )
    )
    session.flush()
    return token


def peek(session: Session, token: str) -> Token | None:
    """The row of a token, if there is one, without checking or using it."""
    return session.exec(select(Token).where(Token.token == token.strip().lower())).first()


def latest(session: Session, address: str) -> Token | None:
    """The newest token bound to `address` (a held post's key), used or not."""
    query = select(Token).where(Token.address == address).order_by(col(Token.id).desc())
    return session.exec(query).first()


def redeem(session: Session, secret: str, token: str, now: float) -> Token:
    """Use a token once: its row, marked used; TokenRefused says why it cannot be used."""
    value = token.strip().lower()
    row = peek(session, value)
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
    row.used = now
    session.add(row)
    session.flush()
    return row


def spend(session: Session, address: str, now: float) -> None:
    """Mark every token bound to `address` (e.g. a held post's key) as used: the thing it
    was for is gone, and its id may be given to something else later."""
    session.connection().execute(
        text("UPDATE token SET used = :t WHERE address = :a AND used = 0"), {"t": now, "a": address}
    )


def purge(session: Session, now: float, keep: float = 30 * 86400.0) -> int:
    """Forget tokens that expired more than `keep` seconds ago."""
    result = session.connection().execute(
        text("DELETE FROM token WHERE expires < :t"), {"t": now - keep}
    )
    return int(result.rowcount or 0)
