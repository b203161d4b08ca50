"""DKIM-Signature fields (RFC 6376) made with OpenSSL, through `cryptography`.

rsa-sha256, relaxed/relaxed. dkimpy signs with RSA written in Python (about 8.5 ms for
a 2048-bit key on the benchmark machine); OpenSSL does it in well under a millisecond,
which matters once members' copies differ (one-click unsubscribe, VERP): one signature
per copy. dkimpy still verifies, and seals ARC. Canonicalization is a few linear
substitutions over the message: nothing here grows faster than the message.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Collection

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb" \r\n")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_FIELD = re.compile(rb"(?m)^[^ \t\r\n:][^:\r\n]*:")  # a field's first line
B64_LINE = 72  # characters of b= per folded line


def load(pem: bytes) -> rsa.RSAPrivateKey:
    """The RSA key in `pem`; ValueError (or TypeError) if it is not an unencrypted one."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    return key


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4, for a body with CRLF line ends."""
    body = _WSP_EOL.sub(b"\r\n", _WSP_RUN.sub(b" ", body))
    body = body.rstrip(b"\r\n")
    if body.endswith(b" "):  # a last line without CRLF: its trailing WSP goes too
        body = body.rstrip(b" ")
    return body + b"\r\n" if body else b""


def relaxed_field(name: bytes, value: bytes) -> bytes:
    """RFC 6376 §3.4.2: `name:value` without its CRLF."""
    value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value)).strip(b" ").removesuffix(b"\r\n")
    return name.strip(b" \t").lower() + b":" + value.strip(b" ")


def fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, value) of each field of a header block with CRLF line ends; the value
    keeps its folding and ends before the field's last CRLF. ValueError for a line that
    is neither a field nor a continuation: what a verifier makes of it is anybody's guess."""
    starts = [m.start() for m in _FIELD.finditer(head)]
    lines = head.count(b"\r\n")
    continuations = head.count(b"\r\n ") + head.count(b"\r\n\t")
    if len(starts) + continuations != lines or (head and not starts) or (starts and starts[0]):
        raise ValueError("a header line that is neither a field nor its continuation")
    found = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(head)
        name, _, value = head[start:end].partition(b":")
        found.append((name, value.removesuffix(b"\r\n")))
    return found


def signature(
    message: bytes,
    key: rsa.RSAPrivateKey,
    domain: str,
    selector: str,
    signed: Collection[bytes],
    when: int,
) -> bytes:
    """The DKIM-Signature field (with its CRLF) for `message` (CRLF line ends): the
    fields whose names are in `signed`, each occurrence, and From once more, so that
    nobody can add another."""
    return Prepared(message, signed).signature(b"", key, domain, selector, when)


class Prepared:
    """A message read once for many signatures: copies that differ only in fields added
    above its header (one-click unsubscribe) share its body hash and the canonical form
    of its own signed fields, so each copy costs its added fields and one RSA signature."""

    def __init__(self, message: bytes, signed: Collection[bytes]) -> None:
        head, _, body = message.partition(b"\r\n\r\n")
        self.signed = signed
        self.present = fields(head + b"\r\n")
        self.body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        self.names = {name.strip(b" \t").lower() for name, _ in self.present}
        self.chosen = _chosen(self.present, signed)
        self.canonical = _canonical(self.present, self.chosen)

    def signature(
        self, above: bytes, key: rsa.RSAPrivateKey, domain: str, selector: str, when: int
    ) -> bytes:
        """The DKIM-Signature field for `above` (whole fields, CRLF line ends, or b"")
        put on top of the prepared message."""
        chosen, canonical = self.chosen, self.canonical
        if above:
            added = fields(above)
            names = [name.strip(b" \t").lower() for name, _ in added]
            if len(set(names)) == len(names) and self.names.isdisjoint(names):
                # each added field the only one of its name: what the message's own
                # fields give stands, the added ones go before it
                mine = [(f, n) for f, n in zip(added, names, strict=True) if n in self.signed]
                chosen = [n for _f, n in mine] + chosen
                canonical = b"".join(relaxed_field(*f) + b"\r\n" for f, _n in mine) + canonical
            else:
                present = [*added, *self.present]
                chosen = _chosen(present, self.signed)
                canonical = _canonical(present, chosen)
        tags = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s={selector}; t={when}; "
            f"h={':'.join(n.decode('ascii') for n in chosen)}; bh={self.body_hash}; b="
        ).encode("ascii")
        data = canonical + relaxed_field(b"DKIM-Signature", b" " + tags)
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        b64 = base64.b64encode(sig)
        folded = b"\r\n\t".join(b64[i : i + B64_LINE] for i in range(0, len(b64), B64_LINE))
        return b"DKIM-Signature: " + tags + folded + b"\r\n"


def _chosen(present: list[tuple[bytes, bytes]], signed: Collection[bytes]) -> list[bytes]:
    """The h= names: each signed field present, and From and the relay trace once more
    than there are, so nobody can add one."""
    names = [name.strip(b" \t").lower() for name, _ in present]
    chosen = [n for n in names if n in signed] + [b"from"]
    if b"x-listfed-trace" in signed:
        chosen.append(b"x-listfed-trace")
    return chosen


def _canonical(present: list[tuple[bytes, bytes]], chosen: list[bytes]) -> bytes:
    return b"".join(relaxed_field(n, v) + b"\r\n" for n, v in _bottom_up(present, chosen))


def _bottom_up(
    present: list[tuple[bytes, bytes]], chosen: list[bytes]
) -> list[tuple[bytes, bytes]]:
    """For each name in `chosen`, the last instance not yet taken (RFC 6376 §5.4.2); a
    name with none left signs nothing (that is what makes From's second entry a guard)."""
    left: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for name, value in present:
        left.setdefault(name.strip(b" \t").lower(), []).append((name, value))
    taken = []
    for name in chosen:
        instances = left.get(name)
        if instances:
            taken.append(instances.pop())
    return taken
