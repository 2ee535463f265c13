"""Fixtures: a real database per dialect (SQLite file, fresh PostgreSQL database), migrated
with Alembic once per session; each test runs in a transaction that is rolled back."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from wfhub.app import create_app
from wfhub.config import Settings
from wfhub.db import Database, create_engine
from wfhub.migrations import upgrade_database
from wfhub.security import tokens

POSTGRES_ADMIN_URL = os.environ.get(
    "WFHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DIALECTS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_postgres_database() -> str:
    """A new empty database on the test server; returns its URL."""
    name = f"wfhub_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A plain URL (as a user would set DATABASE_URL) for an empty database of each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'wfhub.db'}"
        return
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@contextmanager
def separate_database(dialect_url: str, folder: Path) -> Iterator[str]:
    """An empty database of the same dialect as `dialect_url`, for a test that writes through
    a real server process (outside the rolled-back transaction)."""
    if dialect_url.startswith("sqlite"):
        yield f"sqlite:///{folder / f'separate-{secrets.token_hex(4)}.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def fresh_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    with separate_database(database_url, tmp_path) as url:
        yield url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        # Filesystem and git behaviour does not depend on the database: run it once.
        dialects = ["sqlite"] if metafunc.definition.get_closest_marker("filesystem") else DIALECTS
        metafunc.parametrize("database_url", dialects, indirect=True, scope="session")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from wfhub.config import normalize_database_url

    engine = create_engine(normalize_database_url(database_url))
    await upgrade_database(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def database(engine: AsyncEngine) -> AsyncIterator[Database]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield Database(engine, bind=conn)
        await outer.rollback()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        home=tmp_path / "home",
        database_url=database_url,
    )


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[FastAPI]:
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    application = create_app(settings, database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def token(app: FastAPI, database: Database, settings: Settings) -> str:
    async with database.unit_of_work() as session:
        return await tokens.ensure_api_token(session, settings.token_file)


@pytest.fixture
async def anon(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8002") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI, token: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://127.0.0.1:8002",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


class StatementCounter:
    """Counts data statements; the harness's SAVEPOINT/RELEASE bookkeeping is left out."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            self.count += 1


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts SQL statements the engine executes while the test runs."""
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
async def project(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.post("/projects", json={"name": "Demo"})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scripted Ollama host (`tests/scripted_ollama.py`) for one module's live runs."""
    from tests.scripted_runs import scripted_model  # it imports this module

    with scripted_model(tmp_path_factory.mktemp("scripted")) as url:
        yield url
