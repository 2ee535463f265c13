"""Engines and sessions. Services `flush()`; only the edge (a request, a CLI command) commits.

SQLite notes: pysqlite's own transaction handling is switched off so SQLAlchemy emits BEGIN
itself (savepoints then work, which tests rely on). Sessions of unsafe HTTP methods begin with
`BEGIN IMMEDIATE`, so two concurrent writers queue on `busy_timeout` instead of one of them
failing at once with SQLITE_BUSY when it upgrades a read lock; reads stay concurrent under WAL.

Sessions of safe methods run in autocommit (no BEGIN/COMMIT round trips: on SQLite each is
a hop to aiosqlite's thread, on PostgreSQL a network round trip). Measured in-process, this
took `GET /projects/{id}` from ~1.9 ms to ~1.5 ms on SQLite and ~1.5 ms to ~1.2 ms on
PostgreSQL. The price: the statements of one read (a count and its page) are not one snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "wfhub_after_commit"
_IMMEDIATE = "wfhub_immediate"
_AUTOCOMMIT = "wfhub_autocommit"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA foreign_keys=ON",
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=10000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_AUTOCOMMIT, False):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine with wfhub's per-dialect settings applied."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10}, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine for read-only sessions: no explicit transaction."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{_AUTOCOMMIT: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class Database:
    """Session factories over one engine, or over one connection (tests roll it back)."""

    def __init__(self, engine: AsyncEngine, bind: AsyncConnection | None = None) -> None:
        self.engine = engine
        self._bind = bind
        self._read_engine = _autocommit(engine)
        self._readers = async_sessionmaker(
            bind=bind or self._read_engine,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        writer_bind = bind or engine.execution_options(**{_IMMEDIATE: True})
        self._writers = async_sessionmaker(
            bind=writer_bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool = True) -> AsyncSession:
        return (self._writers if write else self._readers)()

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A session committed when the block succeeds, rolled back when it raises."""
        async with self.session(write=write) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        for callback in session.info.pop(_AFTER_COMMIT, []):
            await callback()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A connection for single-statement reads, without an ORM session or transaction.

        For hot reads by id: skipping the session and its request dependency took
        `GET /projects/{id}` from ~1.14 ms to ~0.90 ms in-process on SQLite."""
        if self._bind is not None:
            yield self._bind
            return
        async with self._read_engine.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's unit of work has committed; dropped on rollback."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.unit_of_work(write=request.method not in SAFE_METHODS) as session:
        yield session


async def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(_database)]

# scope="function": the commit happens before the response is sent, so a failed commit
# becomes an error response instead of a 200 for data that was never stored.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
