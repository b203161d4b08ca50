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
from dataclasses import dataclass

import dkim

log = logging.getLogger("listfed.intake")

DnsFunc = Callable[..., bytes | None]
ARC_FIELDS = frozenset((b"arc-seal", b"arc-message-signature", b"arc-authentication-results"))
_SAFE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._-]*")  # what we copy from d= and s= into ours
_TIMEOUT = 5
MAX_SIGNATURES = 5  # each costs a DNS lookup: a post cannot make us do hundreds


@dataclass(frozen=True)
class DkimResult:
    result: str  # pass, fail, permerror, temperror
    domain: str = ""  # d=, lower-case, when it is sane
    selector: str = ""  # s=, when it is sane

    def __str__(self) -> str:
        tags = [f"header.d={self.domain}"] if self.domain else []
        tags += [f"header.s={self.selector}"] if self.selector else []
        return " ".join([f"dkim={self.result}", *tags])


def authentication_results(raw: bytes, authserv_id: str, dnsfunc: DnsFunc, dmarc: str = "") -> str:
    """`authserv_id; dkim=... ; arc=...; dmarc=...` for the message as it arrived."""
    dnsfunc = _remembering(dnsfunc)
    names, found = _dkim_results(raw, dnsfunc)
    if names is None:  # dkimpy cannot read the header: a signature in it cannot be checked
        results = ["dkim=permerror" if b"dkim-signature" in raw.lower() else "dkim=none"]
    else:
        results = [str(r) for r in found] or ["dkim=none"]
    if ARC_FIELDS.intersection(names or ()):
        results.append("arc=" + _arc_result(raw, dnsfunc))
    if dmarc.strip():
        results.append("dmarc=" + " ".join(dmarc.split()))  # never a line break in ours
    return "; ".join([authserv_id, *results])


def dkim_passes(raw: bytes, dnsfunc: DnsFunc) -> tuple[str, ...]:
    """The domains (d=) of the message's DKIM signatures that verify, at most
    MAX_SIGNATURES of them checked."""
    _names, found = _dkim_results(raw, _remembering(dnsfunc))
    return tuple(dict.fromkeys(r.domain for r in found if r.result == "pass" and r.domain))


def relay_passes(raw: bytes, dnsfunc: DnsFunc) -> tuple[str, ...]:
    """The domains (d=) of the DKIM signatures that verify and cover a relay whole: its
    Message-ID, From, every X-Listfed-Trace field there is (so none can be added), and
    the whole body (no l=). What a node trusting a peer by its key checks (issue 23)."""
    remembered = _remembering(dnsfunc)
    names, found = _dkim_results(raw, remembered)
    if names is None:
        return ()
    traces = names.count(b"x-listfed-trace")
    passed = []
    for index, result in enumerate(found):
        if result.result != "pass" or not result.domain:
            continue
        try:
            sig = dkim.DKIM(raw).verify_headerprep(index)[0]
        except Exception:  # noqa: S112 (it verified a moment ago: not expected)
            continue
        signed = [h.strip().lower() for h in sig.get(b"h", b"").split(b":")]
        if (
            b"l" not in sig
            and b"message-id" in signed
            and b"from" in signed
            and signed.count(b"x-listfed-trace") > traces  # each one, and one more: no new
        ):
            passed.append(result.domain)
    return tuple(dict.fromkeys(passed))


def _dkim_results(raw: bytes, dnsfunc: DnsFunc) -> tuple[list[bytes] | None, list[DkimResult]]:
    """The header's field names (None when dkimpy cannot read it) and each signature's
    result, the first MAX_SIGNATURES."""
    try:
        names = [name.lower() for name, _value in dkim.DKIM(raw).headers]
    except Exception:
        return None, []
    count = min(names.count(b"dkim-signature"), MAX_SIGNATURES)
    return names, [_dkim_result(raw, i, dnsfunc) for i in range(count)]


def _remembering(dnsfunc: DnsFunc) -> DnsFunc:
    """`dnsfunc` asked at most once per name for one message: a post repeating one
    signature many times costs one lookup (and one timeout), not one each."""
    seen: dict[bytes | str, bytes | None] = {}

    def lookup(name: bytes | str, *args: object, **kwargs: object) -> bytes | None:
        if name not in seen:
            seen[name] = dnsfunc(name, *args, **kwargs)
        return seen[name]

    return lookup


def _dkim_result(raw: bytes, index: int, dnsfunc: DnsFunc) -> DkimResult:
    """One signature's result, with the domain and selector it claims where they are sane."""
    verifier = dkim.DKIM(raw)
    try:
        sig = verifier.verify_headerprep(index)[0]
    except Exception:
        return DkimResult("permerror")
    d, s = (sig.get(k, b"") for k in (b"d", b"s"))
    domain = d.decode("ascii").lower() if _SAFE.fullmatch(d) else ""
    selector = s.decode("ascii") if _SAFE.fullmatch(s) else ""
    try:
        record = dnsfunc(sig[b"s"] + b"._domainkey." + sig[b"d"] + b".", timeout=_TIMEOUT)
    except Exception as exc:
        log.info("DKIM key lookup for d=%r failed: %s", sig.get(b"d"), exc)
        return DkimResult("temperror", domain, selector)
    try:
        dkim.evaluate_pk(b"", record)  # no record, or one that is not a key: RFC 6376 PERMFAIL
    except Exception:
        return DkimResult("permerror", domain, selector)
    try:
        valid = verifier.verify(index, dnsfunc=lambda *_a, **_k: record)
        result = "pass" if valid else "fail"
    except dkim.ValidationError:
        result = "fail"  # the body hash does not match: the message was changed
    except Exception:
        result = "permerror"  # a key too small, an unknown algorithm, ...
    return DkimResult(result, domain, selector)


def _arc_result(raw: bytes, dnsfunc: DnsFunc) -> str:
    """pass, fail or none; a chain dkimpy calls terminated (an earlier cv=fail) is a fail."""
    try:
        cv = dkim.arc_verify(raw, dnsfunc=dnsfunc)[0]
    except Exception as exc:
        log.info("ARC chain could not be checked: %s", exc)
        return "fail"
    return {b"pass": "pass", b"none": "none"}.get(cv, "fail")
