"""How the list settings of moderation, DMARC and reply-to are typed and stored.

Each reader takes the text an admin typed on the command line and returns what is
stored, or raises UsageError saying what was expected. Lists of items are typed
separated by spaces or commas and stored one per line.
"""

from __future__ import annotations

import fnmatch
import re
import re._parser as sre  # type: ignore[import-not-found]  # the stdlib's pattern reader
from typing import Any

from listfed.addresses import split_address
from listfed.dmarc.names import ascii_domain
from listfed.errors import InvalidAddress, UsageError
from listfed.units import parse_duration

MAX_ADDRESS = 254  # RFC 5321's limit on a path
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)  # possessive repeats never backtrack
_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)")


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
            if nested_repeats(word):
                raise UsageError(
                    f"{word!r} repeats a repeated part (like (a+)+): matching it can take "
                    "longer than the universe; write it without the nesting"
                )
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
        if nested_repeats(pattern):  # stored before it was refused: never matches
            return False
        try:
            return re.search(pattern, address, re.IGNORECASE) is not None
        except re.error:  # stored before validation existed: never matches
            return False
    return fnmatch.fnmatchcase(address, pattern.lower())


def nested_repeats(pattern: str) -> bool:
    """Does the regular expression repeat something that itself repeats, as (a+)+ or
    ([a-z]+\\.?)* do: the shape whose matching time explodes on a crafted address? Read
    from the parser's tree, iteratively; a pattern it cannot read counts as one."""
    try:
        tree = sre.parse(pattern)
    except Exception:  # re.compile accepted it; any surprise here is taken as unsafe
        return True
    stack: list[tuple[Any, bool]] = [(item, False) for item in tree]
    while stack:
        item, inside = stack.pop()
        op, arg = item
        if op in _REPEATS and arg[1] > 1:
            if inside:
                return True
            stack.extend((item, True) for item in arg[2])
        else:
            stack.extend((item, inside) for item in _children(op, arg))
    return False


def _children(op: Any, arg: Any) -> list[Any]:
    """The parser items inside one item (groups, branches, lookarounds, repeats)."""
    if op is sre.SUBPATTERN:
        return list(arg[3])
    if op is sre.BRANCH:
        return [item for branch in arg[1] for item in branch]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return list(arg[1])
    if op in _REPEATS:
        return list(arg[2])
    return []


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
