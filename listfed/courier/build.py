"""A Deliverer from the config: the same one whether `serve` runs it on its own loop or
the pipeline's process (courier/__main__.py) runs it beside."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from listfed.bounces.handle import delivery_failed
from listfed.config import Config
from listfed.context import NodeSettings
from listfed.db.engine import Database
from listfed.delivery.copies import Letter
from listfed.delivery.dkim import MailSigner
from listfed.delivery.routing import RoutedTransport
from listfed.delivery.transport import MaildirTransport, SmtpTransport, Transport
from listfed.delivery.unsubscribe import personal
from listfed.delivery.worker import Deliverer
from listfed.federation import ledger


def transports(
    config: Config, settings: Callable[[], NodeSettings] | None = None
) -> list[Transport]:
    d = config.delivery
    found: list[Transport]
    if d.smtp_host is not None:
        found = [SmtpTransport(d.smtp_host, d.smtp_port or 25) for _ in range(d.connections)]
    else:
        assert d.maildir is not None
        found = [MaildirTransport(d.maildir)]
    if settings is None:
        return found
    return [RoutedTransport(t, settings) for t in found]


def deliverer(
    config: Config,
    db: Database,
    settings: Callable[[], NodeSettings],
    signer: MailSigner | None,
    clock: Callable[[], float] = time.time,
) -> Deliverer:
    """The outbox's drainer: bounce scoring on refusals, the relay ledger, VERP, one-click
    copies and DKIM/ARC signing when the node has a key."""

    def failed(session: Any, outgoing_id: int, address: str, error: str, kind: str) -> None:
        delivery_failed(session, settings(), outgoing_id, address, error, kind, clock())

    signing: dict[str, Any] = {}
    if signer is not None:

        def sign(letter: Letter) -> bytes:
            """DKIM for everything; an ARC seal too on posts, which the list has changed."""
            return signer.sign(letter.data, letter.envelope_from, seal=letter.kind == "post")

        def seal(letter: Letter) -> bytes:
            """One-click posts: the ARC seal once; each copy then gets DKIM alone."""
            return signer.seal(letter.data, letter.envelope_from)

        def sign_each(letter: Letter, above: list[bytes]) -> list[bytes]:
            return signer.sign_each(letter.data, letter.envelope_from, above)

        signing = {"sign": sign, "seal": seal, "sign_each": sign_each}
    return Deliverer(
        db,
        transports(config, settings),
        config.delivery.retry,
        config.delivery.recipients_per_transaction,
        clock,
        failed=failed,
        verp=lambda: settings().verp == "always",
        relayed=ledger.relay_outcome,
        personal=personal(db, settings),
        **signing,
    )
