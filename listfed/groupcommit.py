"""Group commit: many waiting callers, one transaction.

Callers `submit` an item and wait; one flusher hands every item waiting at that moment
to `commit` (a blocking function run on the database thread) in a single transaction.
A failed batch is retried item by item, so one bad item fails only its own caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from listfed.errors import ListfedError, StorageError

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")


class Runner(Protocol):
    """Where a batch is committed: a Database, or intake's own file (spool.py)."""

    async def run(self, fn: Callable[..., A], *args: Any) -> A: ...

    async def run_first(self, fn: Callable[..., A], *args: Any) -> A: ...


class GroupCommit(Generic[T, R]):
    def __init__(
        self, db: Runner, commit: Callable[[list[T]], list[R]], first: bool = False
    ) -> None:
        self.db = db
        self.commit = commit
        self.first = first  # ahead of the database thread's other calls (intake's)
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Wait until `item` is committed; its result, or the ListfedError that stopped it."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._run(self._guarded, [item for item, _ in batch])
            except ListfedError as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc=exc)
                else:
                    for item, future in batch:
                        await self._alone(item, future)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)

    async def _alone(self, item: T, future: asyncio.Future[R]) -> None:
        try:
            [result] = await self._run(self._guarded, [item])
        except ListfedError as exc:
            _settle(future, exc=exc)
        else:
            _settle(future, result)

    async def _run(self, fn: Callable[[list[T]], list[R]], items: list[T]) -> list[R]:
        return await (self.db.run_first if self.first else self.db.run)(fn, items)

    def _guarded(self, items: list[T]) -> list[R]:
        try:
            return self.commit(items)
        except ListfedError:
            raise
        except Exception as exc:  # anything else from SQLite is still "not committed"
            raise StorageError(f"could not commit: {exc}") from exc


def _settle(
    future: asyncio.Future[R], result: R | None = None, exc: BaseException | None = None
) -> None:
    if future.done():  # the caller went away (its SMTP session closed)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
