"""Writes the LLM request ledger off the request path, in batches.

`record()` only appends to a bounded in-memory buffer; a background task inserts what has
gathered every `FLUSH_SECONDS` (or sooner when `BATCH` rows wait), and adds it to the daily
usage rows (`rollup.py`) in the same transaction. A failing or slow database
never blocks forwarding: rows stay buffered and the insert is retried with backoff. If the
buffer ever fills (the database down for a long time under heavy load) the oldest rows are
dropped and counted in `dropped`. `close()` flushes everything before shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from wfhub.db import Database
from wfhub.llm import rollup
from wfhub.models import LlmRequest

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.5
BATCH = 500
BUFFER_LIMIT = 100_000
MAX_BACKOFF_SECONDS = 30.0
CLOSE_SECONDS = 15.0
WRITE_ATTEMPTS = 5


class LedgerWriter:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._rows: deque[dict[str, Any]] = deque(maxlen=BUFFER_LIMIT)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def record(self, row: dict[str, Any]) -> None:
        """Queue one ledger row; never blocks, never raises."""
        if len(self._rows) == BUFFER_LIMIT:
            self.dropped += 1
        self._rows.append(row)
        if len(self._rows) >= BATCH:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def flush(self) -> None:
        """Insert everything buffered now (raises if the database refuses)."""
        while self._rows:
            batch = [self._rows.popleft() for _ in range(min(BATCH, len(self._rows)))]
            try:
                await self._write(batch)
            except BaseException:
                self._rows.extendleft(reversed(batch))  # keep them for the next try
                raise
            self.written += len(batch)

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        """Insert `batch` and add it to the daily usage in one transaction; a usage row
        changed by another writer meanwhile makes the whole transaction retry."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with self._database.unit_of_work() as session:
                    await session.execute(insert(LlmRequest), batch)
                    await rollup.apply(session, rollup.tally_rows(batch))
                return
            except (rollup.StaleUsage, IntegrityError):
                if attempt == WRITE_ATTEMPTS:
                    raise

    async def _run(self) -> None:
        backoff = FLUSH_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                backoff = FLUSH_SECONDS
            except Exception as exc:  # the database is down or slow; retry later
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                log.warning(
                    "ledger write failed (%s); %d rows kept, retry in %.1f s",
                    type(exc).__name__,
                    len(self._rows),
                    backoff,
                )

    async def close(self) -> None:
        """Stop the background task and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await self.flush()
        except Exception as exc:  # shutting down: say what was lost, then go
            log.error("ledger: %d rows not written at shutdown (%s)", len(self._rows), exc)
