"""Where runs execute: the interface, and the worker pool inside a wfhub process.

`RunExecutor` is the plug-in point: `InProcessExecutor` runs each run as an asyncio task in
this process, at most `WFHUB_RUN_CONCURRENCY` at once (the rest wait their turn, queued); a
job queue on PostgreSQL (procrastinate, for `wfhub worker` processes) can implement the same
methods. Runs are submitted only after the request that created them committed. Several
processes may execute runs from one database: each holds a lease on its runs
(`wfhub.runs.leases`), renews it while it lives, and adopts the runs of a process that died.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from wfhub.runs import service
from wfhub.runs.leases import CANCEL_POLL_SECONDS, Leases

CANCEL_WAIT_SECONDS = 10.0
log = logging.getLogger(__name__)


class RunExecutor(abc.ABC):
    owner: str  # the lease owner new runs are created under

    @abc.abstractmethod
    async def start(self) -> None:
        """Take over the runs a dead process left, then keep the leases of this one."""

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
    def __init__(
        self,
        work: Callable[[int], Awaitable[None]],
        concurrency: int,
        leases: Leases,
        *,
        resume: bool,
        cancel_requested: set[int],
    ) -> None:
        self._work = work
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._leases = leases
        self._resume = resume
        self._cancel_requested = cancel_requested
        self._watcher: asyncio.Task[None] | None = None
        self.owner = leases.owner

    async def start(self) -> None:
        await self.adopt_orphans()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

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

    async def adopt_orphans(self) -> None:
        """Resume (or mark interrupted) the runs whose process died, and run the queued."""
        adopted = [o for o in await self._leases.orphans() if await self._leases.adopt(o)]
        if adopted:
            log.info("adopted runs %s", [o.run_id for o in adopted])
        for run_id in await service.recover(self._leases.database, adopted, resume=self._resume):
            self.submit(run_id)

    async def _watch(self) -> None:
        """Cancel requests every second; lease renewal and adoption every third of a lease."""
        every = self._leases.seconds / 3
        last = time.monotonic()
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            try:
                if self._tasks:
                    for run_id in await self._leases.cancel_requests():
                        if run_id in self._tasks:
                            self._cancel_requested.add(run_id)
                            self._tasks[run_id].cancel()
                if time.monotonic() - last >= every:
                    last = time.monotonic()
                    await self._leases.renew()
                    await self.adopt_orphans()
            except (SQLAlchemyError, OSError) as exc:  # the database is down: try again later
                log.warning("run leases: %s", exc)

    async def cancel(self, run_id: int) -> bool:
        task = self._tasks.get(run_id)
        if task is None:
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), CANCEL_WAIT_SECONDS)
        return True

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
