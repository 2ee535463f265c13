from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from wfhub.agent.checkpoints import Checkpoints
from wfhub.config import normalize_database_url
from wfhub.db import create_engine
from wfhub.migrations import (
    CHECKPOINT_TABLES,
    alembic_config,
    current_revision,
    head_revision,
    ours,
    upgrade_database,
)
from wfhub.models import Base


def diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    assert await current_revision(engine) == head_revision()


async def test_downgrade_and_upgrade_round_trip(fresh_database_url: str) -> None:
    # A separate database so the shared one stays at head.
    engine = create_engine(normalize_database_url(fresh_database_url))
    try:
        await upgrade_database(engine)
        await upgrade_database(engine)  # idempotent
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await upgrade_database(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_checkpoint_tables_live_beside_ours(fresh_database_url: str) -> None:
    """LangGraph's savers make their tables in wfhub's database; the models still agree."""
    url = normalize_database_url(fresh_database_url)
    engine = create_engine(url)
    checkpoints = Checkpoints(url)
    try:
        await upgrade_database(engine)
        await checkpoints.saver()
        assert not await checkpoints.exists(1)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert tables & CHECKPOINT_TABLES
            assert await conn.run_sync(diff) == []
    finally:
        await checkpoints.close()
        await engine.dispose()
