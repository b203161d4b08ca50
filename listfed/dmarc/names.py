"""A domain name as DNS is asked about it: IDNA, lower-case, checked label by label.
Apart from the lookup (dmarc/lookup.py) so that `lists set dmarc_always ...` reads a
domain without loading dnspython."""

from __future__ import annotations

import re

_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


def ascii_domain(domain: str) -> str | None:
    """`domain` lower-case in IDNA (2003, the stdlib codec) form, or None when it is not a
    domain name (empty, an empty label, a label over 63 octets, odd characters)."""
    text = domain[:-1] if domain.endswith(".") else domain
    try:
        name = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return name
