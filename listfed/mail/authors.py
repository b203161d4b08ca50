"""Who wrote a message: address lists, the author of a From value, the From domain.

listfed reads From in one way everywhere: DMARC mitigation, the DKIM signing domain, the
archive, digests and the bridges' echo recognition all take the author from `author`,
so no two of them can disagree about who wrote a post or which domain counts.
`getaddresses` is the parser underneath, called only here: each value is capped (it is
not fast on long values) and whatever it raises (it has choked on hostile input) reads
as no address at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses

from listfed.mail.decoding import decode_words
from listfed.mail.rawmail import RawMessage, to_text

MAX_FIELD = 8 * 1024  # characters of one address field read
# An addr-spec anywhere in a field: what getaddresses misses in a mangled value. Tried only
# where a run of its characters starts (the lookbehind): from inside a run with no "@" after
# it, the run was read again for each of its characters (quadratic).
_ADDR_SPEC = re.compile(r"(?<![^\s<>()\[\]\",;:@])[^\s<>()\[\]\",;:@]++@[^\s<>()\[\]\",;:@]+")
# Pipermail's "alice at example.org", where the address stands alone or in <>.
_AT_WORD = re.compile(
    r"(?<![^\s<(\"])([^\s@<>()\",;:]+) at ((?:[A-Za-z0-9-]++\.)+[A-Za-z0-9-]+)(?=\s*+(?:[>(]|$))"
)
_COMMENT = re.compile(r"\([^()]*\)")
_ANGLE = re.compile(r"<([^<>]*)>")
_MAX_WRITTEN = 254  # characters of an unreadable address kept as written


def pairs(values: Iterable[str]) -> list[tuple[str, str]]:
    """(display name as written, address) of every mailbox in address-field values, in
    order (getaddresses's reading); [] when the values cannot be read."""
    try:
        return getaddresses([value[:MAX_FIELD] for value in values])
    except Exception:  # getaddresses has choked on adversarial input before
        return []


def first(value: str) -> tuple[str, str]:
    """The first mailbox of a value as written, whole or not (what `parseaddr` gives):
    for input a person typed as one address, where a later one must not stand in."""
    found = pairs([value])
    return found[0] if found else ("", "")


def addresses(values: Iterable[str]) -> set[str]:
    """The addresses named in address-field values, lower-cased: "is X among them?"."""
    return {address.lower() for _, address in pairs(values) if "@" in address}


def every_address(text: str) -> set[str]:
    """`addresses`, plus every addr-spec anywhere in the text, lower-cased.

    Wider on purpose, for recognising our own post when a foreign list sends it back:
    lists mangle the author's field ("ann@example.org via Team"), and an author missed
    there costs a duplicate post, while an extra address costs nothing.
    """
    text = text[:MAX_FIELD]
    found = addresses([text])
    found.update(spec.lower().rstrip(".") for spec in _ADDR_SPEC.findall(text))
    return found


def author(
    value: str, defects: list[str] | None = None, *, archived: bool = False
) -> tuple[str, str]:
    """(display name, decoded; address, domain lower-cased) of a From value: its first
    mailbox with a whole address. Without one the address is "" and the name the first
    one written.

    ``archived``: the value comes from a web archive, which mangles addresses against
    harvesting. Pipermail's ``alice at example.org`` is read as an address, and an
    address mangled past reading (R-devel's ``bbo|ker @end|ng |rom gm@||@com``) is kept
    as written, so a reader still sees who wrote and a search still finds them. A post's
    own From decides who may post: it is never guessed at.
    """
    found = pairs([value])
    name, address = _whole(found)
    if not address:
        name = next((n for n, _ in found if n), "")
    if not address and archived:
        if " at " in value:
            repaired = _whole(pairs([_AT_WORD.sub(r"\1@\2", value[:MAX_FIELD], count=1)]))
            name, address = repaired if repaired[1] else (name, "")
        address = address or _written(value)
    return decode_words(name, [] if defects is None else defects), address


def _whole(found: list[tuple[str, str]]) -> tuple[str, str]:
    for name, address in found:
        local, at, domain = address.rpartition("@")
        if at and local and domain:
            return name, f"{local}@{domain.lower()}"
    return "", ""


def _written(value: str) -> str:
    """The address part of a value, as written, when it looks like a mangled address
    (it holds an "@"): comments dropped, the inside of <> if any, blanks collapsed."""
    text = _COMMENT.sub(" ", value[:MAX_FIELD])
    angle = _ANGLE.search(text)
    written = " ".join((angle.group(1) if angle else text).split())
    return written[:_MAX_WRITTEN] if "@" in written else ""


def domain(address: str) -> str:
    """The domain of an address, lower-case, without a trailing dot; "" without one."""
    if "@" not in address:
        return ""  # the null sender, or no address at all
    return address.rpartition("@")[2].strip().strip("<>").lower().rstrip(".")


def from_domain(raw: bytes, *, sole: bool = False) -> str:
    """The domain of the post's author (`author` of its first From field); "" if none.

    ``sole``: "" as well unless the From fields hold exactly one mailbox. A DKIM
    signature only aligns with an author nobody can dispute, so the signer asks for
    that; DMARC mitigation takes the first author, since a receiver may judge by it.
    Either way the domain is the same one when there is one.
    """
    values = [_text(v) for v in RawMessage.parse(raw).get_all("From")]
    if not values or (sole and len(pairs(values)) != 1):
        return ""
    return domain(author(values[0])[1])


def _text(value: str) -> str:
    """A field value as `RawMessage.get` gives it (8-bit bytes as surrogate escapes) as
    text: UTF-8, else Latin-1."""
    return to_text(value.encode("utf-8", "surrogateescape"))
