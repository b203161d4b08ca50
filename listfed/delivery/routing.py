"""Per-destination transports: relays for a peer with `smtp = ...` go straight to that
peer's listener; everything else goes the default way (smarthost or maildir).
"""

from __future__ import annotations

from collections.abc import Iterable

from listfed.config.settings import PeerConfig
from listfed.delivery.transport import SendResult, SmtpTransport, Transport


class PeerDirectory:
    """Which mail domains are reached directly, and where; replaced on reload."""

    def __init__(self, peers: Iterable[PeerConfig] = ()) -> None:
        self.direct: dict[str, tuple[str, int]] = {}
        self.update(peers)

    def update(self, peers: Iterable[PeerConfig]) -> None:
        self.direct = {
            domain: (p.smtp_host, p.smtp_port or 25)
            for p in peers
            if p.smtp_host is not None
            for domain in p.domains
        }

    def where(self, address: str) -> tuple[str, int] | None:
        return self.direct.get(address.rpartition("@")[2].lower())


class RoutedTransport:
    """One sender's transport: its default one, plus one connection per direct peer."""

    def __init__(self, default: Transport, peers: PeerDirectory) -> None:
        self.default = default
        self.peers = peers
        self._direct: dict[tuple[str, int], SmtpTransport] = {}

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        groups: dict[tuple[str, int] | None, list[str]] = {}
        for rcpt in recipients:
            groups.setdefault(self.peers.where(rcpt), []).append(rcpt)
        if list(groups) == [None]:
            return await self.default.send(envelope_from, recipients, data)
        result = SendResult()
        for where, rcpts in groups.items():
            part = await self._transport(where).send(envelope_from, rcpts, data)
            result.accepted.extend(part.accepted)
            result.temporary.update(part.temporary)
            result.permanent.update(part.permanent)
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
