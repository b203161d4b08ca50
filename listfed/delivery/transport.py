"""Where delivered mail goes: a smarthost over SMTP, or a local maildir.

A transport sends one message to many recipients and says, per recipient, whether it was
accepted, failed for now (retry) or failed for good (recorded on the member).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from listfed.addresses import split_address
from listfed.config.values import is_loopback
from listfed.delivery.smtpchain import Interrupted, send_chained
from listfed.delivery.smtpclient import Outcome, SmtpClient, SmtpError
from listfed.errors import InvalidAddress


@dataclass
class SendResult:
    accepted: list[str] = field(default_factory=list)
    temporary: dict[str, str] = field(default_factory=dict)
    permanent: dict[str, str] = field(default_factory=dict)
    # Permanent failures that were about the recipient itself (a 5xx to its RCPT): these
    # count as bounces. A refused transaction (MAIL FROM, DATA: a filter, our size, our
    # configuration) says nothing about the members, so it is not in here.
    refused: set[str] = field(default_factory=set)

    def merge(self, other: SendResult) -> None:
        """Add the outcome of another transaction of the same batch."""
        self.accepted.extend(other.accepted)
        self.temporary.update(other.temporary)
        self.permanent.update(other.permanent)
        self.refused |= other.refused

    def all_failed(self, recipients: list[str], error: str, permanent: bool) -> SendResult:
        target = self.permanent if permanent else self.temporary
        for r in recipients:
            target[r] = error
        return self


# (envelope sender, recipient, message): one member's own copy, a transaction of its own
Copy = tuple[str, str, bytes]


class Transport(Protocol):
    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult: ...

    async def send_each(self, copies: list[Copy]) -> SendResult:
        """Each copy to its one recipient (one-click, VERP); outcomes as `send` gives them."""
        ...

    async def close(self) -> None: ...


def _checked(recipients: list[str], result: SendResult) -> list[str]:
    """Addresses we can put in an envelope; the others fail for good here."""
    good = []
    for r in recipients:
        try:
            split_address(r)
            good.append(r)
        except InvalidAddress as exc:
            result.permanent[r] = f"550 5.1.3 {exc}"
    return good


class SmtpTransport:
    """One reused connection to the smarthost (pipelined where it offers PIPELINING,
    delivery/smtpclient.py); a pool is several of these."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 60.0,
        label: str = "smarthost",
        login: tuple[str, str] | None = None,
    ) -> None:
        """`login`: (username, password) for a submission server (a bridge's `smtp`):
        STARTTLS when offered, then AUTH when offered, never in clear text to a remote
        host. Without it (the smarthost, peers) neither is tried."""
        self.host, self.port, self.timeout, self.label = host, port, timeout, label
        self.login = login
        self._client: SmtpClient | None = None

    async def _connected(self) -> tuple[SmtpClient, bool]:
        """The connection, and whether it was open already (reused)."""
        if self._client is not None and self._client.connected:
            return self._client, True
        client = SmtpClient(self.host, self.port, self.timeout, socket.gethostname())
        await client.connect()
        try:
            await self._authenticate(client)
        except BaseException:
            client.close()
            raise
        self._client = client
        return client, False

    async def _authenticate(self, client: SmtpClient) -> None:
        if self.login is None:
            return
        if client.offers("STARTTLS"):
            await client.starttls(ssl.create_default_context())
        if not client.offers("AUTH"):
            return  # the server takes mail without it (a local relay)
        if not client.secure and not is_loopback(self.host):
            raise SmtpError(
                f"{self.host} offers AUTH without TLS: the password is not sent in clear"
            )
        reply = await client.login(*self.login)
        if reply.code != 235:  # our config: retry once mended
            raise SmtpError(f"{self.host} refused the login: {reply}")

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        result = SendResult()
        recipients = _checked(recipients, result)
        if not recipients:
            return result
        try:
            client, reused = await self._connected()
            try:
                outcome = await client.send(envelope_from, recipients, data)
            except SmtpError:
                if not reused:
                    raise
                # the server closed an idle connection: once more on a new one
                client, _ = await self._connected()
                outcome = await client.send(envelope_from, recipients, data)
        except (SmtpError, OSError) as exc:
            await self.close()
            return result.all_failed(recipients, f"{self.label}: {exc}", permanent=False)
        return _judged(result, recipients, outcome)

    async def send_each(self, copies: list[Copy]) -> SendResult:
        """The copies over this one connection, each transaction written with the one
        before it where the server offers PIPELINING (delivery/smtpchain.py)."""
        result = SendResult()
        left = [c for c in copies if _checked([c[1]], result)]
        retried = False
        while left:
            reused = False  # until a connection is had
            try:
                client, reused = await self._connected()
                outcomes = await send_chained(client, [(f, [r], d) for f, r, d in left])
            except (SmtpError, OSError) as exc:
                done = exc.done if isinstance(exc, Interrupted) else []
                for (_f, rcpt, _d), outcome in zip(left, done, strict=False):
                    _judged(result, [rcpt], outcome)
                left = left[len(done) :]
                # Once more on a new connection: after progress (a server that hangs up
                # after some messages), or once if an idle one had been closed.
                if done or (reused and not retried):
                    retried = not done
                    continue
                await self.close()
                return result.all_failed([c[1] for c in left], f"{self.label}: {exc}", False)
            for (_f, rcpt, _d), outcome in zip(left, outcomes, strict=True):
                _judged(result, [rcpt], outcome)
            left = []
        return result

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.quit()


def _judged(result: SendResult, recipients: list[str], outcome: Outcome) -> SendResult:
    """`result` with each recipient's outcome of one transaction added."""
    if not outcome.mail.ok:  # the transaction, not the members: no bounce
        return result.all_failed(recipients, str(outcome.mail), outcome.mail.permanent)
    accepted = []
    for rcpt, reply in zip(recipients, outcome.rcpts, strict=True):
        if reply.ok:
            accepted.append(rcpt)
        else:
            _classify(result, rcpt, reply.code, reply.text)
    final = outcome.message
    if final is not None and not final.ok:
        return result.all_failed(accepted, str(final), final.permanent)
    result.accepted.extend(accepted)
    return result


def _classify(result: SendResult, rcpt: str, code: int, message: str) -> None:
    target = result.permanent if 500 <= code < 600 else result.temporary
    target[rcpt] = f"{code} {message}"
    if 500 <= code < 600:
        result.refused.add(rcpt)


class MaildirTransport:
    """Delivery into one local maildir, one file per recipient (the fresh-install default).

    Each file starts with Return-Path and Delivered-To, as a local MTA would write them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._count = 0

    def _write(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        """Write one file per recipient; a failure part-way keeps what was written."""
        result = SendResult()
        try:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            return result.all_failed(recipients, f"maildir: {exc}", permanent=False)
        body = data.replace(b"\r\n", b"\n")
        host = socket.gethostname().replace("/", "_").replace(":", "_")
        for rcpt in recipients:
            try:
                self._count += 1
                name = f"{time.time_ns()}.P{os.getpid()}Q{self._count}.{host}"
                tmp = self.path / "tmp" / name
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private
                with open(fd, "wb") as fh:
                    fh.write(f"Return-Path: <{envelope_from}>\nDelivered-To: {rcpt}\n".encode())
                    fh.write(body)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.rename(tmp, self.path / "new" / name)
                result.accepted.append(rcpt)
            except OSError as exc:
                result.temporary[rcpt] = f"maildir: {exc}"
        return result

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        checked = SendResult()
        recipients = _checked(recipients, checked)
        result = await asyncio.to_thread(self._write, envelope_from, recipients, data)
        result.permanent.update(checked.permanent)
        return result

    async def send_each(self, copies: list[Copy]) -> SendResult:
        result = SendResult()
        for envelope_from, rcpt, data in copies:
            result.merge(await self.send(envelope_from, [rcpt], data))
        return result

    async def close(self) -> None:
        return None
