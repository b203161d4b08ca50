"""The database thread: one thread runs every database call of the daemon, in order,
except that intake's calls go first.

A post's `250` waits for intake's calls (resolving RCPT, the group commit), and nothing
else should stand in front of them: a pipeline pass or a delivery outcome queued a moment
earlier runs after them. The call already running is never interrupted; passes are
short for that reason (dispatch.py's CHUNK).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DatabaseThread(Executor):
    """A one-thread executor whose `submit_first` calls run before those waiting in turn."""

    def __init__(self, name: str = "listfed-db_0") -> None:
        self._name = name
        # two plain queues and a count of calls waiting: cheaper than a PriorityQueue
        self._first: deque[Call | None] = deque()
        self._in_turn: deque[Call | None] = deque()
        self._waiting = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._put(self._in_turn, fn, args, kwargs)

    def submit_first(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run `fn` before every call waiting in turn."""
        return self._put(self._first, fn, args, {})

    def _put(
        self,
        calls: deque[Call | None],
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._stopped:
                raise RuntimeError("the database thread is stopped")
            calls.append((future, fn, args, kwargs))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
        self._waiting.release()
        return future

    def _work(self) -> None:
        while True:
            self._waiting.acquire()
            call = self._first.popleft() if self._first else self._in_turn.popleft()
            if call is None:
                return
            future, fn, args, kwargs = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller, as any executor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Run what was submitted, then stop the thread."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
            self._in_turn.append(None)  # after every call already waiting
        self._waiting.release()
        if wait and thread is not None:
            thread.join()
