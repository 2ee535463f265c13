"""Preparing a data dir: directories, schema, token. Shared by `serve`, `db` and `token`."""

from __future__ import annotations

import asyncio
import os

from wfhub.config import Settings
from wfhub.db import Database, create_engine
from wfhub.migrations import upgrade_database
from wfhub.security import tokens


def prepare_home(settings: Settings) -> None:
    """Create the data dir private to this user (tokens and the database live there)."""
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home_dir, 0o700)
    settings.workspaces_dir.mkdir(parents=True, exist_ok=True)


async def _initialise(settings: Settings) -> str:
    database = Database(create_engine(settings.resolved_database_url))
    try:
        await upgrade_database(database.engine)
        async with database.unit_of_work() as session:
            return await tokens.ensure_api_token(session, settings.token_file)
    finally:
        await database.dispose()


def initialise(settings: Settings) -> str:
    """Migrate the database to head and make sure an API token exists; returns the token."""
    prepare_home(settings)
    return asyncio.run(_initialise(settings))


async def _rotate(settings: Settings) -> str:
    database = Database(create_engine(settings.resolved_database_url))
    try:
        async with database.unit_of_work() as session:
            token = await tokens.rotate_api_token(session)
    finally:
        await database.dispose()
    tokens.write_private_file(settings.token_file, token + "\n")
    return token


def rotate(settings: Settings) -> str:
    """Replace the API token (all sessions end); returns the new one."""
    initialise(settings)
    return asyncio.run(_rotate(settings))
