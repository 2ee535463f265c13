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

import sqlalchemy
from fastapi import Depends, Request
from sqlalchemy import Executable, RowMapping, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
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


def _sqlite_reads(engine: AsyncEngine) -> Engine:
    """A synchronous, read-only engine on the same SQLite file, for single-row reads on the
    event loop's own thread. Through aiosqlite every statement is four hops to its worker
    thread (~0.1 ms each here, most of a primary-key read); the read itself is tens of
    microseconds. `busy_timeout=0`: a read that would have to wait (rare under WAL) fails at
    once and is retried on the async path, so the loop never blocks on a lock."""
    url = engine.url.set(drivername="sqlite+pysqlite")
    reads = sqlalchemy.create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(reads, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        for pragma in ("PRAGMA query_only=ON", "PRAGMA busy_timeout=0"):
            dbapi_connection.execute(pragma)

    return reads


def _postgres_reads(engine: AsyncEngine) -> AsyncEngine:
    """A pool for single-row reads without `pool_pre_ping`: the ping is a round trip of its
    own on every checkout, as long as the read. A connection found dead is retried once
    instead (`Database.read_one`)."""
    return create_async_engine(
        engine.url, pool_size=10, max_overflow=20, isolation_level="AUTOCOMMIT"
    )


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
        memory = engine.url.database in {None, "", ":memory:"}
        sqlite_file = engine.dialect.name == "sqlite" and not memory and bind is None
        self._sync_reads = _sqlite_reads(engine) if sqlite_file else None
        postgres = engine.dialect.name == "postgresql" and bind is None
        self._fast_reads = _postgres_reads(engine) if postgres else None
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

    async def read_one(self, statement: Executable, params: dict[str, Any]) -> RowMapping | None:
        """The first row of a single-statement read, without an ORM session or transaction.

        For hot reads by id: skipping the session and its request dependency took
        `GET /projects/{id}` from ~1.14 ms to ~0.90 ms in-process on SQLite; reading SQLite
        on the loop's thread (`_sqlite_reads`) takes off most of the rest."""
        if self._sync_reads is not None:
            try:
                with self._sync_reads.connect() as sync:
                    return sync.execute(statement, params).mappings().first()
            except OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        if self._bind is not None:
            return (await self._bind.execute(statement, params)).mappings().first()
        if self._fast_reads is not None:
            for attempt in (1, 2):
                try:
                    async with self._fast_reads.connect() as connection:
                        return (await connection.execute(statement, params)).mappings().first()
                except DBAPIError as exc:
                    if not exc.connection_invalidated or attempt == 2:
                        raise
        async with self._read_engine.connect() as connection:
            return (await connection.execute(statement, params)).mappings().first()

    async def dispose(self) -> None:
        if self._sync_reads is not None:
            self._sync_reads.dispose()
        if self._fast_reads is not None:
            await self._fast_reads.dispose()
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
