"""One pass of an IMAP bridge now (`listfed bridges sync`); what `bridges ls` shows is in
ops/bridgestatus.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from listfed.bridges import state
from listfed.bridges.imapconn import ImapError
from listfed.bridges.watchers import Timing, watcher_for
from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.db import lists
from listfed.db.engine import Database
from listfed.errors import ListfedError, NotFound
from listfed.lookups import Signers


def find(bridges: Sequence[BridgeConfig], name: str) -> BridgeConfig:
    for bridge in bridges:
        if bridge.name == name:
            return bridge
    known = ", ".join(b.name for b in bridges) or "none: the config has no [[bridge]]"
    raise NotFound(f"no bridge named {name} (configured: {known})")


def syncable(bridge: BridgeConfig) -> BridgeConfig:
    """The bridge if one pass of it means something; else why not, as an error."""
    if bridge.imap is None:
        raise ListfedError(
            f"bridge {bridge.name} is an SMTP bridge: the foreign list's mail reaches it by "
            f"SMTP at {bridge.address}, so there is nothing to sync"
        )
    if not bridge.takes_in:
        raise ListfedError(
            f"bridge {bridge.name} has direction = out: it takes nothing from its mailbox"
        )
    return bridge


@dataclass(frozen=True)
class Pass:
    fetched: int  # new messages read from the mailbox
    queued: int  # of them, posts of the foreign list queued on the local list


async def sync(
    db: Database,
    node: NodeSettings,
    bridge: BridgeConfig,
    timing: Timing | None = None,
    signers: Signers | None = None,
) -> Pass:
    """One pass of an IMAP bridge: what is new in its mailbox is read, the foreign list's
    posts queued (the daemon's pipeline takes them from there), the cursor moved.
    Raises ImapError when the server cannot be reached or refuses."""
    syncable(bridge)
    local, _, domain = bridge.list.rpartition("@")
    if not await db.run(_list_exists, db, local.lower(), domain.lower()):
        raise NotFound(
            f"bridge {bridge.name}: the list {bridge.list} does not exist "
            f"(`listfed lists create {bridge.list}` makes it)"
        )
    queued = 0

    def taken(count: int) -> None:
        nonlocal queued
        queued += count

    notes: set[asyncio.Task[None]] = set()
    # its connection states are not the daemon's: only its warnings are written
    watcher = watcher_for(
        db, lambda: node, bridge, timing or Timing(), notes, taken, states=False, signers=signers
    )
    try:
        fetched = await watcher.sync_once()
    except ImapError as exc:
        # the daemon's watcher notes its errors itself; one pass has to, for `bridges ls`
        with contextlib.suppress(ListfedError):  # a busy database must not hide it
            await db.run(_note_error, db, bridge.name, str(exc))
        raise ImapError(f"bridge {bridge.name}: {exc}") from exc
    finally:
        await watcher.close()
        # its warnings (skipped messages, a new UIDVALIDITY) are written before we go
        await asyncio.gather(*list(notes), return_exceptions=True)
    return Pass(fetched, queued)


def _note_error(db: Database, name: str, error: str) -> None:
    with db.write() as s:
        state.set_error(s, name, error, time.time())


def _list_exists(db: Database, local: str, domain: str) -> bool:
    with db.read() as s:
        return lists.exists(s, local, domain)
