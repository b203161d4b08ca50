"""Where delivered mail goes: a smarthost over SMTP, or a local maildir.

A transport sends one message to many recipients and says, per recipient, whether it was
accepted, failed for now (retry) or failed for good (recorded on the member).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from listfed.addresses import split_address
from listfed.config.values import is_loopback
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


class Transport(Protocol):
    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult: ...

    async def close(self) -> None: ...


def _checked(recipients: list[str], result: SendResult) -> list[str]:
    """Our own address check: aiosmtplib would refuse or rewrite what we let through."""
    good = []
    for r in recipients:
        try:
            split_address(r)
            good.append(r)
        except InvalidAddress as exc:
            result.permanent[r] = f"550 5.1.3 {exc}"
    return good


class SmtpTransport:
    """One reused connection to the smarthost; a pool is several of these."""

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
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            client = aiosmtplib.SMTP(
                hostname=self.host,
                port=self.port,
                timeout=self.timeout,
                start_tls=None if self.login else False,
            )
            await client.connect()
            try:
                await self._authenticate(client)
            except BaseException:
                client.close()
                raise
            self._client = client
        return self._client

    async def _authenticate(self, client: aiosmtplib.SMTP) -> None:
        if self.login is None:
            return
        await client.ehlo()
        if not client.supports_extension("auth"):
            return  # the server takes mail without it (a local relay)
        secure = client.get_transport_info("sslcontext") is not None
        if not secure and not is_loopback(self.host):
            raise aiosmtplib.SMTPException(
                f"{self.host} offers AUTH without TLS: the password is not sent in clear"
            )
        try:
            await client.login(*self.login)
        except aiosmtplib.SMTPAuthenticationError as exc:  # our config: retry once mended
            raise aiosmtplib.SMTPException(
                f"{self.host} refused the login: {exc.code} {exc.message}"
            ) from exc

    async def send(self, envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        result = SendResult()
        recipients = _checked(recipients, result)
        if not recipients:
            return result
        try:
            client = await self._connected()
            errors, _ = await client.sendmail(envelope_from, recipients, data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            for err in exc.recipients:
                _classify(result, err.recipient, err.code, err.message)
            return result
        except aiosmtplib.SMTPResponseException as exc:
            text = f"{exc.code} {exc.message}"
            return result.all_failed(recipients, text, permanent=500 <= exc.code < 600)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            return result.all_failed(recipients, f"{self.label}: {exc}", permanent=False)
        for rcpt in recipients:
            if rcpt in errors:
                _classify(result, rcpt, errors[rcpt].code, errors[rcpt].message)
            else:
                result.accepted.append(rcpt)
        return result

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), 5)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


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

    async def close(self) -> None:
        return None
