"""Per-destination transports: relays for a peer with `smtp = ...` go straight to that
peer's listener; everything else goes the default way (smarthost or maildir).
"""

from __future__ import annotations

from collections.abc import Callable

from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.delivery.transport import Copy, SendResult, SmtpTransport, Transport

Where = tuple[str, int, str]  # host, port, bridge name ("" for a peer)


class RoutedTransport:
    """One sender's transport: its default one, plus one connection per direct peer and
    per IMAP bridge with its own `smtp` server.

    Which peers and bridges are direct is read from the node's settings at each send,
    so a reload applies at once."""

    def __init__(self, default: Transport, settings: Callable[[], NodeSettings]) -> None:
        self.default = default
        self.settings = settings
        self._direct: dict[tuple[Where, tuple[str, str] | None], SmtpTransport] = {}

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        node = self.settings()
        direct = [b for b in node.bridges if b.smtp_host and b.identity == envelope_from]
        if not direct and not any(p.smtp_host for p in node.peers):
            return await self.default.send(envelope_from, recipients, data)  # member mail
        groups: dict[Where | None, list[str]] = {}
        for rcpt in recipients:
            groups.setdefault(_where(node, direct, rcpt), []).append(rcpt)
        if list(groups) == [None]:
            return await self.default.send(envelope_from, recipients, data)
        result = SendResult()
        for where, rcpts in groups.items():
            result.merge(await self._transport(node, where).send(envelope_from, rcpts, data))
        return result

    async def send_each(self, copies: list[Copy]) -> SendResult:
        node = self.settings()
        if not any(b.smtp_host for b in node.bridges) and not any(p.smtp_host for p in node.peers):
            return await self.default.send_each(copies)  # member mail: the usual way
        result = SendResult()
        for envelope_from, rcpt, data in copies:
            result.merge(await self.send(envelope_from, [rcpt], data))
        return result

    def _transport(self, node: NodeSettings, where: Where | None) -> Transport:
        if where is None:
            return self.default
        host, port, name = where
        bridge = node.bridge(name) if name else None
        login = None if bridge is None else (bridge.username or "", bridge.password or "")
        key = (where, login)  # a reload that changes the login gets a new connection
        if key not in self._direct:
            if login is not None:
                transport = SmtpTransport(host, port, label=f"bridge {name}", login=login)
            else:
                transport = SmtpTransport(host, port, label=f"peer {host}:{port}")
            self._direct[key] = transport
        return self._direct[key]

    async def close(self) -> None:
        await self.default.close()
        for transport in self._direct.values():
            await transport.close()
        self._direct.clear()


def _where(node: NodeSettings, bridges: list[BridgeConfig], rcpt: str) -> Where | None:
    """The direct server for one recipient: its bridge's `smtp`, its peer's, or None."""
    for bridge in bridges:
        if bridge.foreign.lower() == rcpt.lower() and bridge.smtp_host:
            return (bridge.smtp_host, bridge.smtp_port or 25, bridge.name)
    peer = node.peer_for(rcpt)
    if peer is None or not peer.smtp_host:
        return None
    return (peer.smtp_host, peer.smtp_port or 25, "")
