"""The node's mail authentication, built from the config: the DKIM/ARC signer for what
it sends, and the checks made on each post before the pipeline (the From domain's DMARC
policy; how the post authenticated on arrival, which an ARC seal records)."""

from __future__ import annotations

from collections.abc import Callable

from listfed.config import Config
from listfed.delivery.authresults import authentication_results, dkim_passes, relay_passes
from listfed.delivery.dkim import MailSigner, load_key
from listfed.dmarc.lookup import DmarcLookup
from listfed.dns import make_resolver
from listfed.lookups import Prechecks, Signers


def signer(config: Config, dnsfunc: Callable[..., bytes | None]) -> MailSigner | None:
    """The node's DKIM signer, or None when [dkim] has no key; a bad key stops start-up."""
    if not config.dkim.enabled:
        return None
    return MailSigner(
        config.dkim.selector,
        load_key(config.dkim.private_key),
        config.dkim.domains or config.node.domains,
        config.node.name,
        arc=config.dkim.arc,
        dnsfunc=dnsfunc,
    )


def prechecks(config: Config, dnsfunc: Callable[..., bytes | None], *, sealing: bool) -> Prechecks:
    """DMARC lookups for every post; arrival authentication only when ARC seals; DKIM
    checks of mail to a bridge."""
    lookup = DmarcLookup(make_resolver(config.dns.nameservers, config.dns.timeout))
    name = config.node.name

    def authenticate(raw: bytes) -> str:
        return authentication_results(raw, name, dnsfunc)

    deadline = 3 * config.dns.timeout

    def relayed(raw: bytes) -> tuple[str, ...]:
        return relay_passes(raw, dnsfunc)

    return Prechecks(lookup, authenticate if sealing else None, deadline, signers(dnsfunc), relayed)


def signers(dnsfunc: Callable[..., bytes | None]) -> Signers:
    """Who signed a message, for the bridges (bridges/proof.py): dkimpy with our DNS."""

    def check(raw: bytes) -> tuple[str, ...]:
        return dkim_passes(raw, dnsfunc)

    return check
