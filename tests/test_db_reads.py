"""`Database.read_one`, the hot path of reads by id, on a real database file or server:
it sees every committed write, cannot write, and survives a dropped connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from wfhub.config import normalize_database_url
from wfhub.db import Database, create_engine

SELECT = text("SELECT value FROM notes WHERE id = :id")


async def test_reads_see_each_commit_and_cannot_write(fresh_database_url: str) -> None:
    database = Database(create_engine(normalize_database_url(fresh_database_url)))
    try:
        async with database.unit_of_work() as session:
            await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, value TEXT)"))
            await session.execute(text("INSERT INTO notes VALUES (1, 'first')"))
        first = await database.read_one(SELECT, {"id": 1})
        assert first is not None
        assert dict(first) == {"value": "first"}
        for value in ("second", "third"):
            async with database.unit_of_work() as session:
                await session.execute(text("UPDATE notes SET value = :v"), {"v": value})
            row = await database.read_one(SELECT, {"id": 1})
            assert row is not None
            assert row["value"] == value  # no stale snapshot between reads
        assert await database.read_one(SELECT, {"id": 2}) is None
        if database.dialect == "sqlite":  # the loop-thread reader is opened read-only
            with pytest.raises(OperationalError, match="readonly"):
                await database.read_one(text("INSERT INTO notes VALUES (3, 'x') RETURNING id"), {})
    finally:
        await database.dispose()


async def test_a_dropped_postgres_connection_is_retried(fresh_database_url: str) -> None:
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the pool without pre-ping")
    database = Database(create_engine(normalize_database_url(fresh_database_url)))
    try:
        pid = await database.read_one(text("SELECT pg_backend_pid() AS pid"), {})
        assert pid is not None
        async with database.unit_of_work() as session:
            await session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid["pid"]})
        again = await database.read_one(text("SELECT pg_backend_pid() AS pid"), {})
        assert again is not None
        assert again["pid"] != pid["pid"]
    finally:
        await database.dispose()
