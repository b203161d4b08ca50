"""Waiting for the first of several events, or a timeout: how workers sleep."""

from __future__ import annotations

import asyncio


async def first_of(*events: asyncio.Event, timeout: float | None) -> None:  # noqa: ASYNC109
    """Return when any event is set or `timeout` seconds have passed."""
    if any(e.is_set() for e in events):  # the common case of a busy worker: no tasks made
        return
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
