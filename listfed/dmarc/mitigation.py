"""Whether a post's From must be changed before the list sends it (SPEC §3, DMARC).

A list changes posts (subject prefix, footer), which breaks the author's DKIM signature;
sent on with the author's From, such a post fails DMARC at receivers, and where the
author's domain publishes p=reject or p=quarantine big providers refuse or bin it. So for
those domains the list's mode applies: munge (From becomes the list) or wrap (the post
travels, intact, inside a message from the list). A failed lookup counts as mitigate:
an unneeded munge costs little, a needed one missed costs the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from listfed.listinfo import ListInfo

# The From domain is read by mail/, for DKIM signing as for DMARC: one rule for both.
from listfed.mail.authors import from_domain as from_domain

if TYPE_CHECKING:  # a lookup's result, not dnspython, which lookup.py loads
    from listfed.dmarc.lookup import DmarcResult


@dataclass(frozen=True)
class Mitigation:
    mode: str  # "" (none) | munge | wrap
    reason: str


def _listed(domain: str, domains: tuple[str, ...]) -> bool:
    """`domain` is one of `domains` or a subdomain of one."""
    return any(domain == d or domain.endswith("." + d) for d in domains)


def decide(
    lst: ListInfo, domain: str, found: DmarcResult | None, node_domains: tuple[str, ...]
) -> Mitigation:
    """What to do with a post from `domain` on `lst`, given its DMARC lookup."""
    if lst.dmarc == "none" or not domain:
        return Mitigation("", "")
    if _listed(domain, (*node_domains, *lst.dmarc_never)):
        return Mitigation("", f"{domain} is on the list's dmarc_never")
    if _listed(domain, lst.dmarc_always):
        return Mitigation(lst.dmarc, f"{domain} is on the list's dmarc_always")
    if found is None:
        return Mitigation(lst.dmarc, f"DMARC of {domain} was not looked up")
    return Mitigation(lst.dmarc if found.mitigate else "", found.reason)
