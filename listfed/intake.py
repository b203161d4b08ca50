"""The SMTP/LMTP handler: resolve each RCPT, store the message durably, answer.

Thin on purpose: no policy here. Work happens in the workers, which `wake` tells.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from listfed.addresses import Resolution, for_log
from listfed.db.queue import NewItem
from listfed.errors import ListfedError
from listfed.mail.message import normalise_message_id
from listfed.mail.received import received
from listfed.recipients import TOO_MANY, Recipients, span, summary
from listfed.tally import Tally

log = logging.getLogger("listfed.intake")

Resolver = Callable[[str], Awaitable[tuple[Resolution, int | None]]]
Store = Callable[[bytes, list[NewItem]], Awaitable[list[int]]]  # one message, its items


def _message_id(raw: bytes) -> str:
    """The Message-ID for logs, read cheaply from the header block."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        if line[:11].lower() == b"message-id:":
            return normalise_message_id(line[11:].decode("latin-1"))
    return ""


class IntakeHandler:
    """aiosmtpd handler hooks. `stopping` makes new transactions wait for another time.
    At most `max_recipients` RCPTs are accepted per transaction (recipients.py)."""

    def __init__(
        self,
        resolve: Resolver,
        store: Store,
        wake: Callable[[], None],
        lmtp: bool = False,
        clock: Callable[[], float] = time.time,
        max_recipients: int = 1000,
        node: str = "localhost",
        tally: Tally | None = None,
    ) -> None:
        self.node = node  # [node] name, for the Received: field
        self.tally = tally or Tally(clock)  # replies by code, messages by kind (/metrics)
        self.clock = clock
        self.resolve = resolve
        self.store = store
        self.wake = wake
        self.lmtp = lmtp
        self.max_recipients = max_recipients
        self.stopping = False

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.stopping:
            return self._refused("421 4.3.2 Service shutting down, try again later")
        envelope.mail_from = address  # "<>" for the null reverse-path (aiosmtpd needs it)
        envelope.mail_options.extend(mail_options)
        envelope.listfed_rcpts = Recipients(self.max_recipients)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        rcpts: Recipients = envelope.listfed_rcpts
        if rcpts.full():  # before any lookup: the rest costs nothing
            return self._refused(TOO_MANY)
        try:
            resolution, list_id = await self.resolve(address)
        except ListfedError as exc:
            log.warning("RCPT %s: cannot resolve now: %s", for_log(address), exc)
            return self._refused("451 4.3.0 Temporary lookup failure, try again later")
        if resolution.recipient is None:
            log.info("RCPT %s refused: %s", for_log(address), resolution.reply)
            return self._refused(resolution.reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        rcpts.add(address, resolution.recipient, list_id)
        return resolution.reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content or b""
        rcpts: Recipients = getattr(envelope, "listfed_rcpts", Recipients(self.max_recipients))
        mid = _message_id(raw)
        now = self.clock()
        peer = session.peer[0] if isinstance(session.peer, tuple) and session.peer else ""
        protocol = ("LMTP" if self.lmtp else "ESMTP") + ("S" if session.ssl else "")
        to = [t.address for t in rcpts.targets]
        hop = received(session.host_name, str(peer), self.node, protocol, to, now)
        raw = hop + raw
        sender = envelope.mail_from or ""
        sender = "" if sender.strip() in ("", "<>") else sender  # null reverse-path: no sender
        items = [
            NewItem(
                kind=t.recipient.kind.value,
                list_id=t.list_id,
                rcpt=t.address,
                detail=t.recipient.detail,
                mail_from=sender,
                message_id=mid,
                received=now,
            )
            for t in rcpts.targets
        ]
        try:
            ids = await self.store(raw, items)
        except ListfedError as exc:
            log.error("<%s> not stored, sender will retry: %s", mid, exc)
            return self._each(self._refused(exc.smtp_reply), len(rcpts.accepted))
        for item in items:
            self.tally.add("intake", "accepted", item.kind)
        log.info(
            "<%s> queued as %s for %s",
            mid,
            span(ids),
            summary([t.address for t in rcpts.targets]),
        )
        self.wake()
        if self.lmtp:
            return "\r\n".join(f"250 2.0.0 <{a}> queued as {i}" for a, i in rcpts.ids_by_rcpt(ids))
        return f"250 2.0.0 Queued as {ids[0] if ids else 0}"

    def _refused(self, reply: str) -> str:
        """`reply`, counted by its code."""
        self.tally.add("intake", "refused", reply[:3])
        return reply

    def _each(self, reply: str, count: int) -> str:
        """LMTP answers once per recipient after DATA; SMTP once."""
        return "\r\n".join([reply] * max(count, 1)) if self.lmtp else reply
