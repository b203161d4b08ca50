"""How the list settings of moderation, DMARC and reply-to are typed and stored.

Each reader takes the text an admin typed on the command line and returns what is
stored, or raises UsageError saying what was expected. Lists of items are typed
separated by spaces or commas and stored one per line.
"""

from __future__ import annotations

import fnmatch
import re

from listfed.addresses import split_address
from listfed.dmarc.lookup import ascii_domain
from listfed.errors import InvalidAddress, UsageError
from listfed.units import parse_duration

MAX_ADDRESS = 254  # RFC 5321's limit on a path
_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)")


def items(stored: str) -> tuple[str, ...]:
    """The stored one-per-line text as a tuple."""
    return tuple(line for line in stored.splitlines() if line.strip())


def _split(value: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", value.strip()) if word]


def literal(address: str) -> str:
    """An accept-list entry that matches exactly this address, even one with glob or
    regex characters in it (`*` and `?` are valid in a local part)."""
    if any(c in address for c in "*?[^"):
        return "^" + re.escape(address) + "$"
    return address


def patterns(value: str) -> str:
    """Addresses, globs such as *@example.org, or ^regular expressions; separated by
    whitespace only, since a regular expression may contain commas."""
    found = []
    for word in value.split():
        if word.startswith("^"):
            try:
                re.compile(word, re.IGNORECASE)
            except re.error as exc:
                raise UsageError(f"{word!r} is not a valid regular expression: {exc}") from None
        elif "*" not in word and "?" not in word:
            try:
                split_address(word)
            except InvalidAddress:
                raise UsageError(
                    f"{word!r} is not an address, a glob such as *@example.org, "
                    "or a ^regular expression"
                ) from None
        found.append(word)
    return "\n".join(found)


def matches(pattern: str, address: str) -> bool:
    """Does `address` match one accept_these_nonmembers entry (case-insensitively)?"""
    address = address.lower()[:MAX_ADDRESS]  # bounds the work of a badly written regex
    if pattern.startswith("^"):
        try:
            return re.search(pattern, address, re.IGNORECASE) is not None
        except re.error:  # stored before validation existed: never matches
            return False
    return fnmatch.fnmatchcase(address, pattern.lower())


def mime_types(value: str) -> str:
    found = []
    for word in _split(value.lower()):
        if not _TYPE.fullmatch(word):
            raise UsageError(f"{word!r} is not a MIME type such as application/zip or image/*")
        found.append(word)
    return "\n".join(found)


def domains(value: str) -> str:
    """Mail domains, stored in the form DMARC lookups compare (lower case, IDNA)."""
    found = []
    for word in _split(value):
        name = ascii_domain(word)
        if name is None or "." not in name:
            raise UsageError(f"{word!r} is not a domain such as example.org")
        found.append(name)
    return "\n".join(found)


def reply_to(value: str) -> str:
    """none | list | explicit ADDR."""
    word, _, rest = value.strip().partition(" ")
    if word in ("none", "list") and not rest.strip():
        return word
    if word == "explicit" and rest.strip():
        try:
            split_address(rest.strip())
        except InvalidAddress:
            raise UsageError(f"{rest.strip()!r} is not a valid mail address") from None
        return f"explicit {rest.strip()}"
    raise UsageError(f"expected none, list or 'explicit ADDRESS', not {value!r}")


def duration(value: str) -> float:
    """A duration such as 14d; 0 means never."""
    try:
        return parse_duration(value.strip() if value.strip() != "0" else 0)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
