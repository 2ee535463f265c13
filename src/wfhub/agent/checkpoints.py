"""LangGraph checkpoints in wfhub's own database, so a run survives a restart.

The graph is checkpointed after every step under the thread `run-<id>`. SQLite: LangGraph's
`AsyncSqliteSaver` on the same database file (its tables `checkpoints` and `writes`, WAL like
ours, a 10 s busy timeout so it queues behind wfhub's writers, autocommit so a cancelled
write cannot leave the lock held). PostgreSQL:
`AsyncPostgresSaver` on the same database (`checkpoints`, `checkpoint_blobs`,
`checkpoint_writes`, `checkpoint_migrations`). The savers create and migrate their tables
themselves (`setup()`), outside wfhub's Alembic history, which ignores them
(`wfhub.migrations.CHECKPOINT_TABLES`). The connection is opened on the first run, not at start-up.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url


def thread_of(run_id: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"run-{run_id}"}}


class Checkpoints:
    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self._saver: BaseCheckpointSaver[Any] | None = None
        self._connection: aiosqlite.Connection | AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    async def saver(self) -> BaseCheckpointSaver[Any]:
        async with self._lock:
            if self._saver is None:
                self._saver = await self._open()
            return self._saver

    async def _open(self) -> BaseCheckpointSaver[Any]:
        if self.url.get_backend_name() == "sqlite":
            # Autocommit: the saver's statements then commit on their own. Python's default
            # opens a transaction before the INSERT and commits it in a second call; a run
            # cancelled between the two (a user's cancel, a shutdown) left that transaction
            # open on this long-lived connection, holding SQLite's write lock, and every
            # other write of wfhub failed with "database is locked".
            connection = await aiosqlite.connect(str(self.url.database), isolation_level=None)
            # As wfhub's own connections: under WAL, NORMAL syncs at checkpoints rather than
            # at every commit, and in autocommit every statement is a commit.
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA busy_timeout=10000")
            self._connection = connection
            sqlite_saver = AsyncSqliteSaver(connection)
            await sqlite_saver.setup()
            return sqlite_saver
        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        postgres = await AsyncConnection.connect(
            conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
        )
        self._connection = postgres
        postgres_saver = AsyncPostgresSaver(postgres)
        await postgres_saver.setup()
        return postgres_saver

    async def exists(self, run_id: int) -> bool:
        """Whether the run's graph has a checkpoint to resume from."""
        saver = await self.saver()
        return await saver.aget_tuple(thread_of(run_id)) is not None  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection, self._saver = None, None
