"""`X-Listfed-Signature` (SPEC §9): HMAC-SHA256 over who, when, which message and body.

    X-Listfed-Signature: v=1; n=NODE; t=UNIX-SECONDS; s=BASE64

`s` is computed under the secret shared with peer NODE over the lines ``v=1``,
``n=NODE``, ``t=...``, the Message-ID without brackets, each trace value in order and
the SHA-256 hex of the body as sent, joined by ``\\n``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from listfed.mail.message import SIGNATURE_HEADER

__all__ = ["SIGNATURE_HEADER", "Checked", "sign", "verify"]

FUTURE_SKEW = 300.0  # seconds a signature may claim to come from the future
_TAG = re.compile(r"\s*([a-z])\s*=\s*([^;]*?)\s*")


@dataclass(frozen=True)
class Checked:
    ok: bool
    node: str  # the signing node named in the header ("" when unreadable)
    reason: str


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _mac(
    secret: str, node: str, when: int, message_id: str, traces: Sequence[str], digest: str
) -> bytes:
    lines = ["v=1", f"n={node}", f"t={when}", message_id.strip().strip("<>"), *traces, digest]
    # surrogateescape: header bytes that were not UTF-8 are signed as they came
    text = "\n".join(lines).encode("utf-8", "surrogateescape")
    return hmac.new(secret.encode("utf-8"), text, hashlib.sha256).digest()


def sign(
    secret: str, node: str, when: int, message_id: str, traces: Sequence[str], body: bytes
) -> str:
    """The header value for a message whose body goes out exactly as `body`."""
    mac = _mac(secret, node, when, message_id, traces, body_hash(body))
    return f"v=1; n={node}; t={when}; s={base64.b64encode(mac).decode('ascii')}"


def _tags(value: str) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        match = _TAG.fullmatch(part)
        if match is None or match.group(1) in tags:
            return None
        tags[match.group(1)] = match.group(2)
    return tags


def _body_forms(body: bytes) -> list[bytes]:
    """The body as received, and with its line endings as CRLF or LF: relays pass through
    MTAs and stores that may convert them, and the hash is meant for the text sent."""
    lf = body.replace(b"\r\n", b"\n")
    return list(dict.fromkeys([body, lf.replace(b"\n", b"\r\n"), lf]))


def verify(
    value: str,
    secrets: Mapping[str, str],
    message_id: str,
    traces: Sequence[str],
    body: bytes,
    now: float,
    max_age: float,
) -> Checked:
    """Check one header value against the secrets of known peers (node name → secret)."""
    tags = _tags(value)
    if tags is None or not {"v", "n", "t", "s"} <= tags.keys():
        return Checked(False, "", "the signature header is malformed")
    node = tags["n"]
    if tags["v"] != "1":
        return Checked(False, node, f"unknown signature version {tags['v']!r}")
    secret = next((s for n, s in secrets.items() if n.casefold() == node.casefold()), None)
    if secret is None:
        return Checked(False, node, f"{node!r} is not a known peer")
    if not re.fullmatch(r"[0-9]{1,12}", tags["t"]):
        return Checked(False, node, "the signature time is not a number")
    when = int(tags["t"])
    if when > now + FUTURE_SKEW:
        return Checked(False, node, "the signature is dated in the future")
    if when < now - max_age:
        return Checked(False, node, f"the signature is stale ({int(now - when)}s old)")
    try:
        given = base64.b64decode(tags["s"], validate=True)
    except (binascii.Error, ValueError):
        return Checked(False, node, "the signature is not base64")
    for form in _body_forms(body):
        expected = _mac(secret, node, when, message_id, traces, body_hash(form))
        if hmac.compare_digest(expected, given):
            return Checked(True, node, f"signed by peer node {node}")
    return Checked(False, node, "the signature does not match the message")
