"""LangGraph checkpoints in wfhub's SQLite file: a run cancelled in the middle of a
checkpoint write (a user's cancel, a shutdown) must not leave the write lock held."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from wfhub.agent.checkpoints import Checkpoints, thread_of

pytestmark = pytest.mark.filesystem


async def test_a_cancelled_checkpoint_write_leaves_no_transaction_open(tmp_path: Path) -> None:
    database = tmp_path / "hub.db"
    checkpoints = Checkpoints(f"sqlite+aiosqlite:///{database}")
    saver = await checkpoints.saver()
    config = {"configurable": {**thread_of(1)["configurable"], "checkpoint_ns": ""}}
    try:
        for attempt in range(60):
            write = asyncio.create_task(saver.aput(config, empty_checkpoint(), {}, {}))  # type: ignore[arg-type]
            for _ in range(attempt % 6):  # cancelled at each point of the write in turn
                await asyncio.sleep(0)
            write.cancel()
            await asyncio.gather(write, return_exceptions=True)
            await asyncio.sleep(0.01)  # let the write's thread finish what it was given
            # Another writer (wfhub's own sessions) gets the lock at once.
            other = sqlite3.connect(database, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            finally:
                other.close()
    finally:
        await checkpoints.close()
