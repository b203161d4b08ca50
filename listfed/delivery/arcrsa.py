"""ARC seals with OpenSSL's RSA instead of dkimpy's own (issue 18).

dkimpy seals ARC (two RSA signatures: the message signature and the seal) with RSA
arithmetic written in Python, some 7 ms a signature with a 2048-bit key; OpenSSL, through
`cryptography`, takes about 0.35 ms. dkimpy has no hook for its RSA step, so `install`
replaces the one function it calls for it, `dkim.RSASSA_PKCS1_v1_5_sign`, with one that
gives the digest to OpenSSL: RSASSA-PKCS1-v1_5 is deterministic, so the bytes are the
same as dkimpy's (a test compares them). Anything this cannot handle (another hash, a
key that does not load) goes to dkimpy's own function. The replacement is process-wide;
it changes how fast signatures are made, never what they are.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

_DKIMPY_SIGN = dkim.RSASSA_PKCS1_v1_5_sign
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
_FIELDS = (
    "prime1",
    "prime2",
    "privateExponent",
    "exponent1",
    "exponent2",
    "coefficient",
    "publicExponent",
    "modulus",
)


@functools.lru_cache(maxsize=8)
def _key(numbers: tuple[int, ...]) -> rsa.RSAPrivateKey:
    p, q, d, dmp1, dmq1, iqmp, e, n = numbers
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, public).private_key()


def sign(hash_obj: Any, private_key: Mapping[str, int]) -> bytes:
    """dkimpy's RSASSA_PKCS1_v1_5_sign(hash, private_key), by OpenSSL."""
    algorithm = _HASHES.get(str(getattr(hash_obj, "name", "")).lower())
    if algorithm is None:
        return bytes(_DKIMPY_SIGN(hash_obj, private_key))
    try:
        key = _key(tuple(int(private_key[name]) for name in _FIELDS))
    except (KeyError, TypeError, ValueError):
        return bytes(_DKIMPY_SIGN(hash_obj, private_key))
    return key.sign(hash_obj.digest(), padding.PKCS1v15(), Prehashed(algorithm()))


def install() -> None:
    """Make dkimpy's signing (ARC seals) use `sign`; harmless to repeat."""
    dkim.RSASSA_PKCS1_v1_5_sign = sign
