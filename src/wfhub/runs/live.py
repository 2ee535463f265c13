"""Wake-ups for live event streams: a stream waits here instead of polling the database.

The executor's process notifies after each event it stores. A stream registers before it
reads, so an event stored between its read and its wait still wakes it. It also re-reads
after `POLL_SECONDS` without a wake-up, so events written by another process (a worker)
arrive too, only later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator

POLL_SECONDS = 1.0


class RunEventsHub:
    def __init__(self) -> None:
        self._waiters: defaultdict[int, set[asyncio.Event]] = defaultdict(set)

    def notify(self, run_id: int) -> None:
        for waiter in self._waiters.get(run_id, ()):
            waiter.set()

    @contextlib.contextmanager
    def listen(self, run_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever the run stores a new event, while the block runs."""
        waiter = asyncio.Event()
        self._waiters[run_id].add(waiter)
        try:
            yield waiter
        finally:
            self._waiters[run_id].discard(waiter)
            if not self._waiters[run_id]:
                del self._waiters[run_id]


async def woken(waiter: asyncio.Event, seconds: float = POLL_SECONDS) -> None:
    """Wait for `waiter` (then reset it) or `seconds`, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(waiter.wait(), seconds)
    waiter.clear()
