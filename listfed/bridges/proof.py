"""Is mail that reached a bridge really the foreign list's post? Either of two proofs:

- **DKIM**: a signature on it verifies, by the foreign list's domain or a parent of it
  (relaxed alignment, as DMARC has it: a post of ``coc@lists.example.org`` signed
  ``d=example.org``). Mailman behind a signing MTA, groups.io and Google Groups sign so.
- **The tag**: the bridge is subscribed to the foreign list as ``LOCAL+TAG@DOMAIN``,
  where TAG is an HMAC of the node secret over the bridge's name and address. Only the
  foreign list (and its admins) know that address: relays out go from the bare one.
  An SMTP bridge sees it as the RCPT; an IMAP bridge in the Delivered-To, X-Original-To
  or Envelope-To field the mailbox's server wrote.

The envelope sender proves nothing (anyone can write one), nor do the List-* fields: a
post without a proof goes through the list's policy like any stranger's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from listfed.config.settings import BridgeConfig
from listfed.mail.authors import addresses
from listfed.mail.rawmail import RawMessage

_TAG_BYTES = 10  # 16 base32 characters: 80 bits
_MAX_HEAD = 256 * 1024
_DELIVERED = ("Delivered-To", "X-Original-To", "Envelope-To")
_MAX_DELIVERED = 20  # fields of each name read


def tag(secret: str, bridge: BridgeConfig) -> str:
    """The bridge's secret tag; "" when the node has no secret (no tag then proves)."""
    if not secret:
        return ""
    said = f"listfed bridge tag\n{bridge.name}\n{bridge.identity.lower()}"
    mac = hmac.new(secret.encode(), said.encode(), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.b32encode(mac).decode().rstrip("=").lower()


def subscribed(secret: str, bridge: BridgeConfig) -> str:
    """The address to subscribe to the foreign list: the bridge's, with its tag."""
    local, _, domain = bridge.identity.rpartition("@")
    code = tag(secret, bridge)
    return f"{local}+{code}@{domain}" if code and local else bridge.identity


def tagged(secret: str, bridge: BridgeConfig, sent_to: Iterable[str]) -> bool:
    """Was it sent to the bridge's tagged address? (compared in constant time)"""
    code = tag(secret, bridge)
    if not code:
        return False
    local, _, domain = bridge.identity.lower().rpartition("@")
    found = False
    for address in sent_to:
        a_local, _, a_domain = address.strip().strip("<>").lower().rpartition("@")
        base, plus, detail = a_local.partition("+")
        if plus and base == local and a_domain == domain:
            found |= hmac.compare_digest(detail.encode(), code.encode())
    return found


def aligned(signers: Iterable[str], foreign: str) -> str:
    """The first signing domain aligned with the foreign list's domain, else ""."""
    domain = foreign.rpartition("@")[2].lower()
    for d in signers:
        d = d.lower().rstrip(".")
        if "." in d and (d == domain or domain.endswith("." + d)):
            return d
    return ""


def delivered_to(raw: bytes) -> set[str]:
    """The addresses a mailbox's server says it delivered `raw` to."""
    msg = RawMessage.parse(raw[:_MAX_HEAD])
    return addresses([v for name in _DELIVERED for v in msg.get_all(name)[:_MAX_DELIVERED]])


def proven(
    secret: str, bridge: BridgeConfig, sent_to: Iterable[str], signers: Iterable[str]
) -> str:
    """How it is proven to be the foreign list's ("" when it is not)."""
    if tagged(secret, bridge, sent_to):
        return "sent to the bridge's tagged address"
    domain = aligned(signers, bridge.foreign)
    return f"DKIM-signed by {domain}" if domain else ""


def unproven_reason(bridge: BridgeConfig) -> str:
    return (
        f"not proven to come from {bridge.foreign} (no DKIM signature of its domain, not "
        f"sent to the bridge's tagged address: see `listfed bridges ls`)"
    )
