"""Alembic migrations, shipped inside the package so an installed wfhub can migrate itself."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Tables in wfhub's database that LangGraph's checkpoint savers own and migrate themselves
# (wfhub.agent.checkpoints); comparisons with wfhub's models leave them out.
CHECKPOINT_TABLES = frozenset(
    {"checkpoints", "writes", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"}
)


def ours(_object: object, name: str | None, type_: str, reflected: bool, _to: object) -> bool:
    """Alembic's `include_object`: every object but the checkpoint savers' tables."""
    return not (type_ == "table" and reflected and name in CHECKPOINT_TABLES)


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config pointing at this package; `connection` is used instead of opening one."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_database(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
