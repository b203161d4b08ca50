"""The database thread: one thread runs every database call of the daemon, in order,
except that intake's calls go first.

A post's `250` waits for intake's calls (resolving RCPT, the group commit), and nothing
else should stand in front of them: a pipeline pass or a delivery outcome queued a moment
earlier runs after them. The call already running is never interrupted; passes are
short for that reason (dispatch.py's CHUNK).

The event loop hands a call over and gets its answer back with as little machinery as
asyncio allows (an asyncio future settled through `call_soon_threadsafe`): every post
makes several such calls, and `run_in_executor`'s chain of two futures, a lock and a
condition cost more than some of the calls themselves.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import suppress
from typing import Any, TypeVar

T = TypeVar("T")

# (the future to settle, the loop it belongs to or None for a concurrent future, fn, args)
Call = tuple[Any, asyncio.AbstractEventLoop | None, Callable[..., Any], tuple[Any, ...]]


class DatabaseThread(Executor):
    """A one-thread executor whose `first` calls run before those waiting in turn."""

    def __init__(self, name: str = "listfed-db_0") -> None:
        self._name = name
        self._first: deque[Call | None] = deque()
        self._in_turn: deque[Call | None] = deque()
        self._waiting: queue.SimpleQueue[None] = queue.SimpleQueue()  # one token a call
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    async def call(self, fn: Callable[..., T], args: tuple[Any, ...], first: bool = False) -> T:
        """Run `fn(*args)` on the thread and wait for its result in the running loop;
        `first`: before every call waiting in turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put(self._first if first else self._in_turn, (future, loop, fn, args))
        return await future

    def first_waiting(self) -> bool:
        """Is a `first` call waiting? (A long call may then end early, see dispatch.py.)"""
        return bool(self._first)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        call = (lambda: fn(*args, **kwargs)) if kwargs else fn
        self._put(self._in_turn, (future, None, call, () if kwargs else args))
        return future

    def submit_first(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run `fn` before every call waiting in turn."""
        future: Future[T] = Future()
        self._put(self._first, (future, None, fn, args))
        return future

    def _put(self, calls: deque[Call | None], call: Call) -> None:
        with self._lock:
            if self._stopped:
                raise RuntimeError("the database thread is stopped")
            calls.append(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
        self._waiting.put(None)

    def _work(self) -> None:
        while True:
            self._waiting.get()
            call = self._first.popleft() if self._first else self._in_turn.popleft()
            if call is None:
                return
            future, loop, fn, args = call
            if loop is None:
                _run_concurrent(future, fn, args)
                continue
            if future.cancelled():  # its caller went away before it started (a read of
                continue  # the state only: run_in_executor skipped such calls too)
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the caller, as any executor does
                _settle_soon(loop, future, None, exc)
            else:
                _settle_soon(loop, future, result, None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Run what was submitted, then stop the thread."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
            self._in_turn.append(None)  # after every call already waiting
        self._waiting.put(None)
        if wait and thread is not None:
            thread.join()


def _run_concurrent(future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args)
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _settle_soon(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, future, result, exc)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
