"""What a batch's transactions carry: the copy for everyone, or each member's own.

The copy for everyone is DKIM-signed (a post also ARC-sealed) once per message. Where
members' copies differ (one-click unsubscribe), the post without the list's shared
List-Unsubscribe fields is sealed once; each member's copy adds its own fields on top
and gets a DKIM signature of its own, some at a time in a worker thread, the next ones
signed while the ones before go out. Signing and sealing are synchronous (OpenSSL,
dkimpy): they run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace

from listfed.delivery.unsubscribe import without_fields

KEPT = 32  # messages whose signed copy or sealed base are kept for the next batches
SIGNED_AT_ONCE = 50  # one-click copies signed in a thread while the ones before go out


@dataclass(frozen=True)
class Letter:
    """One outgoing message as the senders need it."""

    envelope_from: str
    data: bytes  # as stored in outgoing, unsigned: Copies signs what goes
    message_id: str
    kind: str = "post"
    list_id: int | None = None


class Copies:
    """The signed copies of the messages being delivered, kept for their next batches."""

    def __init__(
        self,
        sign: Callable[[Letter], bytes] | None = None,
        seal: Callable[[Letter], bytes] | None = None,
        sign_each: Callable[[Letter, list[bytes]], list[bytes]] | None = None,
    ) -> None:
        self.sign = sign  # DKIM (and ARC): once per message
        self.seal = seal  # ARC alone: once per one-click post, its copies then DKIM only
        self.sign_each = sign_each  # those copies: each with its fields, DKIM-signed
        self._bases: OrderedDict[int, bytes] = OrderedDict()  # one-click copies' common part
        self._signed: OrderedDict[int, bytes] = OrderedDict()  # the shared copy, signed

    async def base(self, outgoing_id: int, letter: Letter) -> bytes:
        """What a post's one-click copies share: the post without the list's shared
        List-Unsubscribe fields, ARC-sealed once (the seal costs some 40 times a DKIM
        signature); each copy then adds its own fields above it and a DKIM signature."""
        if outgoing_id not in self._bases:
            base = await asyncio.to_thread(without_fields, letter.data)
            if self.seal is not None:
                base = await asyncio.to_thread(self.seal, replace(letter, data=base))
            self._bases[outgoing_id] = base
            while len(self._bases) > KEPT:
                self._bases.popitem(last=False)
        return self._bases[outgoing_id]

    async def shared(self, outgoing_id: int, letter: Letter) -> bytes:
        """The copy for everyone (DKIM-signed, ARC-sealed for a post), made when first
        needed: a list whose members all get one-click copies never needs it."""
        if self.sign is None:
            return letter.data
        if outgoing_id not in self._signed:
            self._signed[outgoing_id] = await asyncio.to_thread(self.sign, letter)
            while len(self._signed) > KEPT:
                self._signed.popitem(last=False)
        return self._signed[outgoing_id]

    async def each(
        self, outgoing_id: int, letter: Letter, heads: dict[str, bytes]
    ) -> AsyncGenerator[list[tuple[str, bytes]]]:
        """Each one-click member's copy: the shared part with the member's own fields on
        top, DKIM-signed where the node signs, some at a time in a thread: the next ones
        are signed while these are sent (OpenSSL lets go of the GIL as it signs)."""
        bare = replace(letter, data=await self.base(outgoing_id, letter))
        order = list(heads)
        sign_each = self.sign_each
        if sign_each is None:
            yield [(a, heads[a] + bare.data) for a in order]
            return
        parts = [order[i : i + SIGNED_AT_ONCE] for i in range(0, len(order), SIGNED_AT_ONCE)]

        def signing(part: list[str]) -> asyncio.Future[list[bytes]]:
            above = [heads[a] for a in part]
            return asyncio.ensure_future(asyncio.to_thread(sign_each, bare, above))

        ahead = signing(parts[0])
        try:
            for i, part in enumerate(parts):
                made = await ahead
                if i + 1 < len(parts):
                    ahead = signing(parts[i + 1])
                yield list(zip(part, made, strict=True))
        finally:
            ahead.cancel()  # a send that failed: what the thread makes is dropped
