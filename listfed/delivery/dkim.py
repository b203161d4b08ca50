"""DKIM-signing what the node sends, and ARC-sealing the posts it changed (RFC 6376, 8617).

The DKIM-Signature is made by dkimsign.py (OpenSSL); dkimpy checks keys and seals ARC,
its RSA step handed to OpenSSL too (arcrsa.py).
This module picks the signing domain (a d= that aligns with
neither the envelope nor the From buys nothing) and makes sure a signing problem never
costs a message: whatever dkimpy raises is logged and the mail goes out unsigned.

What dkimpy needs, learnt from its source (1.1.8):
- RSA keys only (ed25519 would need pynacl and a raw seed, not PEM), as PEM with LF line
  ends, PKCS#1 ("BEGIN RSA PRIVATE KEY") or unencrypted PKCS#8 ("BEGIN PRIVATE KEY");
- its verifiers refuse keys under 1024 bits;
- ARC sealing needs the `authres` package and an `Authentication-Results` field spelled
  exactly so, whose authserv-id is ours; without one it quietly returns no ARC set;
- it reads CRLF or LF but writes its fields with CRLF, so LF input is made CRLF here.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable

import dkim
from dkim.crypto import parse_pem_private_key
from dkim.util import parse_tag_value

from listfed.delivery import arcrsa, dkimsign
from listfed.errors import ConfigError
from listfed.mail.authors import domain as address_domain
from listfed.mail.authors import from_domain
from listfed.mail.rawmail import crlf

log = logging.getLogger("listfed.delivery")

DnsFunc = Callable[..., bytes | None]

# Signed once per occurrence, From once more so that nobody can add a second one.
# List-Unsubscribe-Post must be signed for RFC 8058 one-click unsubscribe to be honoured.
SIGNED = frozenset(
    b"from sender to cc subject date message-id in-reply-to references reply-to "
    b"list-id list-post list-unsubscribe list-unsubscribe-post list-subscribe list-help "
    b"list-owner list-archive mime-version content-type content-transfer-encoding "
    b"x-listfed-trace".split()  # a relay's trace: what peers trusting our key check
)
MIN_BITS = 1024  # what dkimpy's verifiers accept
_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL
# The line's rest; its trailing blanks (and CR) are cut in _message_id: a lazy (.*?) before
# [ \t]* read a long run of blanks once per character of it (quadratic).
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*+(.*)", re.IGNORECASE | re.MULTILINE)


def load_key(pem: str) -> bytes:
    """The key as dkimpy wants it, checked by a test signature; ConfigError if unusable."""
    if "ENCRYPTED" in pem:
        problem = "the key is encrypted; decrypt it with `openssl pkey -in KEY -out dkim.pem`"
        raise ConfigError(problem, key="dkim.private_key")
    try:
        key = (pem.strip().replace("\r\n", "\n").replace("\r", "\n") + "\n").encode("ascii")
        bits = key_bits(key)
        probe = b"From: probe@example.org\r\nSubject: probe\r\n\r\nprobe\r\n"
        record = public_key_record(key).encode()
        signed = dkimsign.signature(probe, dkimsign.load(key), "example.org", "probe", SIGNED, 0)
        usable = dkim.verify(signed + probe, dnsfunc=lambda *_a, **_k: record)
    except Exception as exc:
        problem = f"not an RSA private key in PEM (PKCS#1 or PKCS#8) that dkimpy can use: {exc}"
        raise ConfigError(problem[:300], key="dkim.private_key") from None
    if bits < MIN_BITS:
        problem = f"the RSA key has {bits} bits; receivers ignore keys under {MIN_BITS}"
        raise ConfigError(problem, key="dkim.private_key")
    if not usable:
        raise ConfigError("the key does not verify its own signature", key="dkim.private_key")
    return key


def key_bits(key: bytes) -> int:
    return int(parse_pem_private_key(key)["modulus"]).bit_length()


def public_key_record(key: bytes) -> str:
    """The TXT record for SELECTOR._domainkey.DOMAIN: the public half, as SubjectPublicKeyInfo."""
    parts = parse_pem_private_key(key)
    rsa_key = _der(0x30, _der_int(parts["modulus"]) + _der_int(parts["publicExponent"]))
    info = _der(0x30, _RSA_ALGORITHM + _der(0x03, b"\x00" + rsa_key))
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(info).decode("ascii")


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))  # keeps it positive


class MailSigner:
    """Signs outgoing mail for the hosted domains; synchronous, so callers use a thread."""

    def __init__(
        self,
        selector: str,
        private_key: bytes,
        domains: tuple[str, ...],
        authserv_id: str,
        *,
        arc: bool = True,
        dnsfunc: DnsFunc | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.selector = selector
        self.record = public_key_record(private_key)
        self._key = private_key
        self._rsa = dkimsign.load(private_key)
        self._domains = frozenset(d.lower().rstrip(".") for d in domains)
        self._authserv_id = authserv_id
        self._arc = arc
        if arc:
            arcrsa.install()  # dkimpy's ARC seals signed by OpenSSL (arcrsa.py)
        self._dnsfunc = dnsfunc
        self._clock = clock

    def domain_for(self, envelope_from: str, data: bytes) -> str | None:
        """d=: the envelope sender's domain if hosted, else the From's; None: do not sign."""
        # The From domain as DMARC reads it, and only when From names one author.
        for domain in (address_domain(envelope_from), from_domain(data, sole=True)):
            if domain in self._domains:
                return domain
        return None

    def sign(self, data: bytes, envelope_from: str, *, seal: bool = False) -> bytes:
        """The message with a DKIM-Signature (and an ARC set first, if asked), or as it was."""
        domain = self.domain_for(envelope_from, data)
        if domain is None:
            log.debug("%s: not signed: no hosted domain aligns", _message_id(data))
            return data
        message = crlf(data)
        if not message.endswith(b"\r\n"):  # as it goes over SMTP: verifiers then agree
            message += b"\r\n"
        if seal and self._arc:
            message = self._seal(message, domain)
        try:
            when = int(self._clock())
            field = dkimsign.signature(message, self._rsa, domain, self.selector, SIGNED, when)
        except Exception as exc:
            log.warning("%s: sent without DKIM: %s", _message_id(data), _short(exc))
            return data
        return bytes(field) + message

    def sign_each(self, data: bytes, envelope_from: str, above: list[bytes]) -> list[bytes]:
        """Copies of `data`, each with its own fields `above[i]` (whole fields, CRLF) on
        top and its own DKIM signature; the message (and its ARC set, if `seal` made
        one) is read once for all of them. Unsigned copies if signing fails."""
        domain = self.domain_for(envelope_from, data)
        message = crlf(data)
        if not message.endswith(b"\r\n"):
            message += b"\r\n"
        if domain is None:
            return [fields + message for fields in above]
        try:
            prepared = dkimsign.Prepared(message, SIGNED)
            when = int(self._clock())
            return [
                prepared.signature(fields, self._rsa, domain, self.selector, when)
                + fields
                + message
                for fields in above
            ]
        except Exception as exc:
            log.warning("%s: sent without DKIM: %s", _message_id(data), _short(exc))
            return [fields + message for fields in above]

    def seal(self, data: bytes, envelope_from: str) -> bytes:
        """The message with an ARC set (no DKIM-Signature), or as it was: for a post whose
        members' copies then differ only in fields added above it (one-click), so that
        one seal serves every copy and each gets only its own DKIM signature."""
        domain = self.domain_for(envelope_from, data)
        if domain is None or not self._arc:
            return data
        message = crlf(data)
        if not message.endswith(b"\r\n"):
            message += b"\r\n"
        return self._seal(message, domain)

    def _seal(self, message: bytes, domain: str) -> bytes:
        """Prepend an ARC set recording what we saw on arrival, or log why there is none."""
        srv_id = self._authserv_id.encode()
        try:
            fields = dkim.arc_sign(
                message,
                self.selector.encode(),
                domain.encode(),
                self._key,
                srv_id,
                timestamp=int(self._clock()),
                linesep=b"\r\n",
            )
        except Exception as exc:
            log.warning("%s: not ARC-sealed: %s", _message_id(message), _short(exc))
            return message
        if not fields:
            log.info(
                "%s: not ARC-sealed: no Authentication-Results from %s, or a broken chain",
                _message_id(message),
                self._authserv_id,
            )
            return message
        return b"".join(fields) + message

    def key_published(self, domain: str) -> bool | None:
        """Whether DNS serves this key for DOMAIN; None when there is no answer to judge by."""
        if self._dnsfunc is None:
            return None
        try:
            found = self._dnsfunc(f"{self.selector}._domainkey.{domain}.".encode(), timeout=5)
            if not found:
                return False
            mine = parse_tag_value(self.record.encode())[b"p"]
            return bool(re.sub(rb"\s+", b"", parse_tag_value(found).get(b"p", b"")) == mine)
        except Exception:
            return None


def _message_id(data: bytes) -> str:
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
    found = _MESSAGE_ID.search(head)
    if found is None:
        return "(no Message-ID)"
    return found.group(1).removesuffix(b"\r").rstrip(b" \t")[:200].decode("ascii", "replace")


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
