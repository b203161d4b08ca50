"""What the pipeline needs from the network about a post, fetched before its database
transaction so that no DNS wait ever holds the database thread: the From domain's DMARC
policy, and, when the node ARC-seals, how the post authenticated on arrival (DKIM and
ARC verification, in a worker thread: dkimpy is synchronous); and, for mail to an SMTP
bridge's address, which domains' DKIM signatures on it verify (bridges/proof.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from listfed.dmarc.mitigation import from_domain

if TYPE_CHECKING:  # dnspython: the daemon's; a `Post` (`routes test`) needs none
    from listfed.dmarc.lookup import DmarcLookup, DmarcResult

log = logging.getLogger("listfed.pipeline")

# (raw message) -> the value of an Authentication-Results field
Authenticate = Callable[[bytes], str]
# (raw message) -> the d= domains of its DKIM signatures that verify
Signers = Callable[[bytes], tuple[str, ...]]


@dataclass(frozen=True)
class Facts:
    dmarc: DmarcResult | None = None  # None: the post has no From domain to look up
    auth: str = ""  # Authentication-Results value; "" when the node does not seal
    signers: tuple[str, ...] = ()  # mail to a bridge: d= of its DKIM signatures that verify
    # a relay from a peer trusted by its DKIM key: d= of the signatures that verify and
    # cover the relay whole (delivery/authresults.relay_passes)
    relay_signers: tuple[str, ...] = ()


class Prechecks:
    def __init__(
        self,
        dmarc: DmarcLookup | None,
        authenticate: Authenticate | None,
        deadline: float = 15.0,
        signers: Signers | None = None,
        relay_signers: Signers | None = None,
    ) -> None:
        self.dmarc = dmarc
        self.authenticate = authenticate
        self.signers = signers
        self.relay_signers = relay_signers
        self.deadline = deadline  # for one post's arrival checks, all signatures together

    async def facts(self, raw: bytes, dmarc: bool = True, relay: bool = False) -> Facts:
        """Never raises: what cannot be found out is left out (DMARC then mitigates).
        With `dmarc` false (the list never mitigates) no policy is looked up; with
        `relay` (its last hop names a peer trusted by DKIM) its relay signers are."""
        found: DmarcResult | None = None
        auth = ""
        relayed: tuple[str, ...] = ()
        try:
            domain = from_domain(raw) if dmarc else ""
            if domain and self.dmarc is not None:
                found = await self.dmarc.check(domain)
            if self.authenticate is not None:
                auth = await asyncio.wait_for(
                    asyncio.to_thread(self.authenticate, raw), self.deadline
                )
            if relay and self.relay_signers is not None:
                relayed = await asyncio.wait_for(
                    asyncio.to_thread(self.relay_signers, raw), self.deadline
                )
        except TimeoutError:  # the post goes on without an ARC seal rather than wait
            log.warning(
                "arrival checks took over %.0f s: the post is not ARC-sealed", self.deadline
            )
        except Exception:  # a bug here must not stop the queue: the post goes on without
            log.exception("checks before the pipeline failed for a post")
        return Facts(found, auth, relay_signers=relayed)

    async def all(self, posts: dict[int, tuple[bytes, bool, bool]]) -> dict[int, Facts]:
        """Facts for each queue id (raw, mitigating list?, a DKIM peer's relay?), looked
        up side by side."""
        return await _side_by_side({i: self.facts(*post) for i, post in posts.items()})

    async def signed(self, raw: bytes) -> Facts:
        """Mail to a bridge: who signed it. Never raises: what cannot be checked in
        time counts as not signed (the post then goes through the list's policy)."""
        if self.signers is None:
            return Facts()
        try:
            found = await asyncio.wait_for(asyncio.to_thread(self.signers, raw), self.deadline)
        except TimeoutError:
            log.warning("DKIM checks of mail to a bridge took over %.0f s", self.deadline)
            return Facts()
        except Exception:
            log.exception("DKIM checks of mail to a bridge failed")
            return Facts()
        return Facts(signers=found)

    async def all_signed(self, raws: dict[int, bytes]) -> dict[int, Facts]:
        """`signed` for each queue id, side by side."""
        return await _side_by_side({i: self.signed(raw) for i, raw in raws.items()})


async def _side_by_side(lookups: dict[int, Coroutine[Any, Any, Facts]]) -> dict[int, Facts]:
    found = await asyncio.gather(*lookups.values())
    return dict(zip(lookups, found, strict=True))
