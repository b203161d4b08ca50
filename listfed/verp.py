"""VERP return paths (SPEC §9): ``LIST-bounces+USER=HOST@DOMAIN`` for recipient ``USER@HOST``.

The member's address rides in the detail of the bounces address, so a bounce names the member
whatever the remote MTA writes in it. Local parts may themselves hold ``=`` (and ``+``), while a
host never does, so decoding splits on the last ``=``.
"""

from __future__ import annotations

from listfed.addresses import normalise, split_address
from listfed.errors import InvalidAddress


def verp_address(bounces_address: str, recipient: str) -> str:
    """LIST-bounces@DOMAIN + USER@HOST → LIST-bounces+USER=HOST@DOMAIN (SPEC §9).

    InvalidAddress if either address is not one. The host is lower-cased, the user kept as given.
    The result may have a local part over 64 octets; MTAs accept those for VERP in practice.
    """
    local, domain = split_address(bounces_address)
    user, host = split_address(recipient)
    return f"{local}+{user}={host}@{domain}"


def verp_recipient(detail: str) -> str | None:
    """The member address encoded in the detail of LIST-bounces+DETAIL: "USER=HOST" → "USER@HOST"
    (domain lower-cased, validated with listfed.addresses.normalise); None if it is not one."""
    user, equals, host = detail.rpartition("=")
    if not equals or not user or not host:
        return None
    candidate = f"{user}@{host}"
    try:
        address = normalise(candidate)
    except InvalidAddress:
        return None
    # normalise forgives surrounding blanks and angle brackets; a detail must not carry them.
    return address if address.lower() == candidate.lower() else None
