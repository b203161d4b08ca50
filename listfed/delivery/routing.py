"""Per-destination transports: relays for a peer with `smtp = ...` go straight to that
peer's listener; everything else goes the default way (smarthost or maildir).
"""

from __future__ import annotations

from collections.abc import Callable

from listfed.delivery.transport import SendResult, SmtpTransport, Transport
from listfed.post import NodeSettings


class RoutedTransport:
    """One sender's transport: its default one, plus one connection per direct peer.

    Which peers are direct is read from the node's settings at each send, so a reload
    applies at once."""

    def __init__(self, default: Transport, settings: Callable[[], NodeSettings]) -> None:
        self.default = default
        self.settings = settings
        self._direct: dict[tuple[str, int], SmtpTransport] = {}

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        node = self.settings()
        if not any(p.smtp_host for p in node.peers):  # member deliveries: no per-rcpt work
            return await self.default.send(envelope_from, recipients, data)
        groups: dict[tuple[str, int] | None, list[str]] = {}
        for rcpt in recipients:
            peer = node.peer_for(rcpt)
            where = (
                None
                if peer is None or not peer.smtp_host
                else (peer.smtp_host, peer.smtp_port or 25)
            )
            groups.setdefault(where, []).append(rcpt)
        if list(groups) == [None]:
            return await self.default.send(envelope_from, recipients, data)
        result = SendResult()
        for where, rcpts in groups.items():
            result.merge(await self._transport(where).send(envelope_from, rcpts, data))
        return result

    def _transport(self, where: tuple[str, int] | None) -> Transport:
        if where is None:
            return self.default
        if where not in self._direct:
            self._direct[where] = SmtpTransport(*where, label=f"peer {where[0]}:{where[1]}")
        return self._direct[where]

    async def close(self) -> None:
        await self.default.close()
        for transport in self._direct.values():
            await transport.close()
        self._direct.clear()
