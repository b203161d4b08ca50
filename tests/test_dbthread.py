"""The database thread: calls in order, intake's first, the stop after what was asked."""

from __future__ import annotations

import asyncio
import threading

import pytest

from listfed.db.thread import DatabaseThread


def test_first_calls_go_ahead_of_those_waiting_in_turn() -> None:
    pool = DatabaseThread()
    gate = threading.Event()
    ran: list[str] = []
    blocker = pool.submit(gate.wait)  # the call already running is never interrupted
    later = [pool.submit(ran.append, f"turn {i}") for i in range(3)]
    first = [pool.submit_first(ran.append, f"first {i}") for i in range(2)]
    gate.set()
    for future in [blocker, *later, *first]:
        future.result(timeout=5)
    assert ran == ["first 0", "first 1", "turn 0", "turn 1", "turn 2"]
    pool.shutdown()


def test_errors_reach_the_caller_and_the_thread_goes_on() -> None:
    pool = DatabaseThread()

    def fails() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        pool.submit(fails).result(timeout=5)
    assert pool.submit_first(lambda: threading.current_thread().name).result(5) == "listfed-db_0"
    pool.shutdown()


def test_shutdown_runs_what_was_asked_then_refuses_more() -> None:
    pool = DatabaseThread()
    gate = threading.Event()
    ran: list[int] = []
    pool.submit(gate.wait)
    futures = [pool.submit(ran.append, i) for i in range(5)]
    stopper = threading.Thread(target=pool.shutdown)
    stopper.start()
    gate.set()
    stopper.join(timeout=5)
    assert ran == [0, 1, 2, 3, 4] and all(f.done() for f in futures)
    with pytest.raises(RuntimeError):
        pool.submit(ran.append, 5)


async def test_calls_from_the_loop_keep_their_order_and_errors() -> None:
    pool = DatabaseThread()
    gate = threading.Event()
    ran: list[str] = []
    blocker = asyncio.ensure_future(pool.call(gate.wait, ()))
    later = asyncio.ensure_future(pool.call(ran.append, ("turn",)))
    first = asyncio.ensure_future(pool.call(ran.append, ("first",), first=True))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(blocker, later, first)
    assert ran == ["first", "turn"]

    def fails() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await pool.call(fails, ())
    pool.shutdown()
