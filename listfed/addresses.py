"""The one parser of list addresses: ``LIST[-sub][+detail]@DOMAIN`` → `Recipient`.

RCPT resolution lives here too, so that every refusal (550 5.1.1, 550 5.7.1) is decided
in one place. Which lists exist is asked through a callable, so this stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from listfed.errors import InvalidAddress

# Dot-atom local part and a hostname: what we accept from members and at RCPT. Quoted local
# parts and address literals are refused: no list needs them, and they are a smuggling path.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}\.)*{_LABEL}"
_ADDRESS = re.compile(rf"({_LOCAL})@({_DOMAIN})")


class Kind(StrEnum):
    POST = "post"
    REQUEST = "request"
    JOIN = "join"
    LEAVE = "leave"
    OWNER = "owner"
    BOUNCES = "bounces"
    CONFIRM = "confirm"
    BRIDGE = "bridge"  # an SMTP bridge's address: what a foreign list sends us


_SUFFIXES = {k.value: k for k in Kind if k not in (Kind.POST, Kind.BRIDGE)}
# Mailman's names for -join and -leave (SPEC §2), which old footers and habits use
_SUFFIXES |= {"subscribe": Kind.JOIN, "unsubscribe": Kind.LEAVE}
_WITH_DETAIL = {Kind.BOUNCES, Kind.CONFIRM}


@dataclass(frozen=True)
class Recipient:
    """What an address at a hosted domain means."""

    list_local: str
    domain: str
    kind: Kind
    detail: str = ""

    @property
    def list_address(self) -> str:
        return f"{self.list_local}@{self.domain}"


def split_address(address: str, max_local: int = 64) -> tuple[str, str]:
    """``"User@Example.ORG"`` → ``("User", "example.org")``; InvalidAddress if it is not one."""
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    match = _ADDRESS.fullmatch(text)
    if match is None or len(text) > 254 or len(match.group(1)) > max_local:
        raise InvalidAddress(f"not a valid mail address: {address!r}")
    return match.group(1), match.group(2).lower()


def normalise(address: str) -> str:
    """The form we store and compare: local part as given, domain lower-cased."""
    local, domain = split_address(address)
    return f"{local}@{domain}"


def candidates(local: str, domain: str) -> list[Recipient]:
    """Every reading of a local part, the plain list name first."""
    name = local.lower()
    found = [Recipient(name, domain, Kind.POST)]
    base, plus, detail = name.partition("+")
    head, dash, suffix = base.rpartition("-")
    if dash and head and suffix in _SUFFIXES:
        kind = _SUFFIXES[suffix]
        if plus and kind in _WITH_DETAIL and detail:
            found.append(Recipient(head, domain, kind, local.partition("+")[2]))
        elif not plus and kind is not Kind.CONFIRM:  # a confirmation needs its token
            found.append(Recipient(head, domain, kind))
    return found


@dataclass(frozen=True)
class Resolution:
    recipient: Recipient | None
    reply: str  # the SMTP answer to RCPT


def resolve(
    address: str,
    domains: Collection[str],
    list_exists: Callable[[str, str], bool],
    bridges: Mapping[str, tuple[str, str]] | None = None,
) -> Resolution:
    """Decide an RCPT: a Recipient with 250, or a refusal that names why. `bridges` maps
    an SMTP bridge's address (lower-cased) to (its local list's address, its name)."""
    try:
        # VERP (LIST-bounces+USER=HOST) and token addresses outgrow RFC 5321's 64 octets;
        # MTAs pass them on, so we take them too.
        local, domain = split_address(address, max_local=200)
    except InvalidAddress:
        return Resolution(None, "553 5.1.3 Bad recipient address syntax")
    if domain not in domains:
        return Resolution(None, "550 5.7.1 Relaying denied: we do not host that domain")
    known = bridges or {}
    # a bridge subscribed as NAME+TAG (bridges/proof.py); any other tag is taken too, and
    # then proves nothing
    bridge = known.get(f"{local.lower()}@{domain}") or known.get(
        f"{local.lower().partition('+')[0]}@{domain}"
    )
    if bridge is not None:
        list_local, _, list_domain = bridge[0].rpartition("@")
        if list_exists(list_local, list_domain):
            return Resolution(
                Recipient(list_local, list_domain, Kind.BRIDGE, bridge[1]), "250 2.1.5 OK"
            )
        return Resolution(None, "550 5.1.1 This bridge's list does not exist here")
    for recipient in candidates(local, domain):
        if list_exists(recipient.list_local, domain):
            return Resolution(recipient, "250 2.1.5 OK")
    return Resolution(None, "550 5.1.1 No such list or address here")


_CODE_SHOWN = 6  # characters of a confirmation code that logs show


def for_log(address: str) -> str:
    """`address` as a log shows it: a code after `+` (a confirmation's LIST-confirm+CODE,
    a bridge's secret tag) cut to its first characters, so that whoever reads the log
    cannot act on it. VERP addresses (LIST-bounces+USER=HOST) are shown whole."""
    local, at, domain = address.rpartition("@")
    name, plus, code = local.partition("+")
    if at and plus and not name.lower().endswith("-bounces") and len(code) > _CODE_SHOWN:
        return f"{name}+{code[:_CODE_SHOWN]}...@{domain}"
    return address
