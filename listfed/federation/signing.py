"""`X-Listfed-Signature`: HMAC-SHA256 over who, when, where to, and what (SPEC §9 gives
v=1; README, "The relay signature", gives v=2 as here).

    X-Listfed-Signature: v=2; n=NODE; t=UNIX-SECONDS; s=BASE64

`s` is computed under the secret shared with peer NODE (its UTF-8 bytes) over these
lines, joined by ``\\n`` with none after the last:

    v=2
    n=NODE
    t=UNIX-SECONDS
    the target list address, lower-cased: where the relay is sent (on checking: the
        list it arrived on, so that a copy resent to another list fails)
    the value of From, then of Subject, then of Content-Type
    the Message-ID without surrounding whitespace and angle brackets
    each X-Listfed-Trace value, oldest first
    the SHA-256 hex of the body as sent

A field value is unfolded (a line break before a space or tab is removed) with the
whitespace around it stripped, bytes as they are (no RFC 2047 decoding); an absent
field is an empty line. A message with more than one From, Subject or Content-Type
cannot be signed, and its v=2 signature is refused.

v=1 signs only the lines ``v=1``, ``n=``, ``t=``, the Message-ID, the traces and the
body hash. Nodes no longer write it; it is checked while ``accept_v1_signatures`` says so.
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
from listfed.mail.rawmail import RawMessage

__all__ = ["SIGNATURE_HEADER", "Checked", "Covered", "field_values", "sign", "verify"]

FUTURE_SKEW = 300.0  # seconds a signature may claim to come from the future
SIGNED_FIELDS = ("From", "Subject", "Content-Type")
V1_REFUSED = "v=1 signatures are refused here ([node] accept_v1_signatures = false)"
_TAG = re.compile(r"\s*([a-z])\s*=\s*([^;]*?)\s*")


@dataclass(frozen=True)
class Checked:
    ok: bool
    node: str  # the signing node named in the header ("" when unreadable)
    reason: str


@dataclass(frozen=True)
class Covered:
    """What a signature covers besides its node and time, as read from one message."""

    message_id: str
    traces: Sequence[str]
    body: bytes
    target: str = ""  # v=2: the list address the relay is sent to or arrived on
    fields: Sequence[str] | None = ("", "", "")  # v=2: SIGNED_FIELDS; None: one is repeated

    def lines(self, version: str, node: str, when: int, digest: str) -> list[str]:
        """The signed lines of signature `version` for this body hash."""
        mid = self.message_id.strip().strip("<>")
        head = [f"v={version}", f"n={node}", f"t={when}"]
        if version == "1":
            return [*head, mid, *self.traces, digest]
        if self.fields is None:
            raise ValueError("a message with a repeated From, Subject or Content-Type")
        return [*head, self.target.lower(), *self.fields, mid, *self.traces, digest]


def field_values(head: RawMessage) -> tuple[str, ...] | None:
    """From, Subject and Content-Type unfolded and stripped ("" when absent), as
    `RawMessage` reads them; None when one of them occurs more than once."""
    values = []
    for name in SIGNED_FIELDS:
        found = head.get_all(name)
        if len(found) > 1:
            return None
        values.append(found[0] if found else "")
    return tuple(values)


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _mac(secret: str, lines: Sequence[str]) -> bytes:
    # surrogateescape: header bytes that were not UTF-8 are signed as they came
    text = "\n".join(lines).encode("utf-8", "surrogateescape")
    return hmac.new(secret.encode("utf-8"), text, hashlib.sha256).digest()


def sign(secret: str, node: str, when: int, covered: Covered, version: str = "2") -> str:
    """The header value of signature `version` (2, or 1 for peers that know only
    SPEC §9's form) for a message that goes out exactly as `covered` says;
    ValueError when it cannot be signed v=2 (a repeated field)."""
    mac = _mac(secret, covered.lines(version, node, when, body_hash(covered.body)))
    return f"v={version}; n={node}; t={when}; s={base64.b64encode(mac).decode('ascii')}"


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
    secrets: Mapping[str, str | Sequence[str]],
    covered: Covered,
    now: float,
    max_age: float,
    *,
    accept_v1: bool = True,
) -> Checked:
    """Check one header value against the secrets of known peers (node name → its
    secret, or its secrets during a rotation: any of them verifies)."""
    tags = _tags(value)
    if tags is None or not {"v", "n", "t", "s"} <= tags.keys():
        return Checked(False, "", "the signature header is malformed")
    node, version = tags["n"], tags["v"]
    if version not in ("1", "2"):
        return Checked(False, node, f"unknown signature version {version!r}")
    if version == "1" and not accept_v1:
        return Checked(False, node, V1_REFUSED)
    if version == "2" and covered.fields is None:
        return Checked(False, node, "From, Subject or Content-Type occurs more than once")
    found = next((s for n, s in secrets.items() if n.casefold() == node.casefold()), None)
    if found is None:
        return Checked(False, node, f"{node!r} is not a known peer")
    keys = (found,) if isinstance(found, str) else tuple(found)
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
    for form in _body_forms(covered.body):
        lines = covered.lines(version, node, when, body_hash(form))
        for n, secret in enumerate(keys):
            if hmac.compare_digest(_mac(secret, lines), given):
                older = " with a retiring secret" if n else ""
                return Checked(True, node, f"signed by peer node {node} (v={version}){older}")
    return Checked(False, node, "the signature does not match the message")
