"""Where runs execute: the interface, and the worker pool inside `wfhub serve`.

`RunExecutor` is the plug-in point: `InProcessExecutor` runs each run as an asyncio task in
this process, at most `WFHUB_RUN_CONCURRENCY` at once (the rest wait their turn, queued); a
job queue on PostgreSQL (procrastinate, for `wfhub worker` processes) can implement the same
three methods. Runs are submitted only after the request that created them committed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Awaitable, Callable

CANCEL_WAIT_SECONDS = 10.0


class RunExecutor(abc.ABC):
    @abc.abstractmethod
    def submit(self, run_id: int) -> None:
        """Start the run when a slot is free."""

    @abc.abstractmethod
    async def cancel(self, run_id: int) -> bool:
        """Stop the run if this executor has it; True when it did (the run then records
        itself as cancelled)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every run (they end as cancelled or interrupted) and release the pool."""


class InProcessExecutor(RunExecutor):
    def __init__(self, work: Callable[[int], Awaitable[None]], concurrency: int) -> None:
        self._work = work
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def submit(self, run_id: int) -> None:
        async def guarded() -> None:
            try:
                async with self._slots:
                    await self._work(run_id)
            finally:
                self._tasks.pop(run_id, None)

        self._tasks[run_id] = asyncio.get_running_loop().create_task(guarded())

    @property
    def running(self) -> list[int]:
        return list(self._tasks)

    async def cancel(self, run_id: int) -> bool:
        task = self._tasks.get(run_id)
        if task is None:
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), CANCEL_WAIT_SECONDS)
        return True

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
