"""What the node saw when a post arrived, as an Authentication-Results value (RFC 8601).

The ARC set we add when sealing (delivery/dkim.py) copies this field, and its `arc=`
result becomes the seal's cv=, so it only ever says pass, fail or none there: dkimpy
would write any other word into the seal as it is. Synchronous (dkimpy is); callers run
it in a thread. It never raises: what cannot be judged is reported as an error result.

dkim= results, per signature: pass; fail (the signature or the body hash does not match);
permerror (a malformed signature, or no key record: RFC 6376 §6.1.2 says PERMFAIL);
temperror (the DNS lookup itself failed, so a later try may succeed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import dkim

log = logging.getLogger("listfed.intake")

DnsFunc = Callable[..., bytes | None]
ARC_FIELDS = frozenset((b"arc-seal", b"arc-message-signature", b"arc-authentication-results"))
_SAFE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._-]*")  # what we copy from d= and s= into ours
_TIMEOUT = 5
MAX_SIGNATURES = 5  # each costs a DNS lookup: a post cannot make us do hundreds


def authentication_results(raw: bytes, authserv_id: str, dnsfunc: DnsFunc, dmarc: str = "") -> str:
    """`authserv_id; dkim=... ; arc=...; dmarc=...` for the message as it arrived."""
    dnsfunc = _remembering(dnsfunc)
    results: list[str] = []
    try:
        names = [name.lower() for name, _value in dkim.DKIM(raw).headers]
    except Exception:
        # dkimpy cannot read the header: a signature in it cannot be checked
        names = []
        results.append("dkim=permerror" if b"dkim-signature" in raw.lower() else "dkim=none")
    else:
        count = min(names.count(b"dkim-signature"), MAX_SIGNATURES)
        results += [_dkim_result(raw, i, dnsfunc) for i in range(count)] or ["dkim=none"]
    if ARC_FIELDS.intersection(names):
        results.append("arc=" + _arc_result(raw, dnsfunc))
    if dmarc.strip():
        results.append("dmarc=" + " ".join(dmarc.split()))  # never a line break in ours
    return "; ".join([authserv_id, *results])


def _remembering(dnsfunc: DnsFunc) -> DnsFunc:
    """`dnsfunc` asked at most once per name for one message: a post repeating one
    signature many times costs one lookup (and one timeout), not one each."""
    seen: dict[bytes | str, bytes | None] = {}

    def lookup(name: bytes | str, *args: object, **kwargs: object) -> bytes | None:
        if name not in seen:
            seen[name] = dnsfunc(name, *args, **kwargs)
        return seen[name]

    return lookup


def _dkim_result(raw: bytes, index: int, dnsfunc: DnsFunc) -> str:
    """One signature's result, with the domain and selector it claims where they are sane."""
    verifier = dkim.DKIM(raw)
    try:
        sig = verifier.verify_headerprep(index)[0]
    except Exception:
        return "dkim=permerror"
    tags = [
        f"header.{tag}={sig[key].decode('ascii')}"
        for tag, key in (("d", b"d"), ("s", b"s"))
        if _SAFE.fullmatch(sig.get(key, b""))
    ]
    try:
        record = dnsfunc(sig[b"s"] + b"._domainkey." + sig[b"d"] + b".", timeout=_TIMEOUT)
    except Exception as exc:
        log.info("DKIM key lookup for d=%r failed: %s", sig.get(b"d"), exc)
        return " ".join(["dkim=temperror", *tags])
    try:
        dkim.evaluate_pk(b"", record)  # no record, or one that is not a key: RFC 6376 PERMFAIL
    except Exception:
        return " ".join(["dkim=permerror", *tags])
    try:
        valid = verifier.verify(index, dnsfunc=lambda *_a, **_k: record)
        result = "pass" if valid else "fail"
    except dkim.ValidationError:
        result = "fail"  # the body hash does not match: the message was changed
    except Exception:
        result = "permerror"  # a key too small, an unknown algorithm, ...
    return " ".join([f"dkim={result}", *tags])


def _arc_result(raw: bytes, dnsfunc: DnsFunc) -> str:
    """pass, fail or none; a chain dkimpy calls terminated (an earlier cv=fail) is a fail."""
    try:
        cv = dkim.arc_verify(raw, dnsfunc=dnsfunc)[0]
    except Exception as exc:
        log.info("ARC chain could not be checked: %s", exc)
        return "fail"
    return {b"pass": "pass", b"none": "none"}.get(cv, "fail")
