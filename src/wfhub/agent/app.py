"""create_agent_app(settings): `wfhub agent-api`, the agent API as its own process (port 8001).

It serves the routes `wfhub serve` mounts under `/agent`, at its root, and executes the runs
started through it with its own worker pool; the runs' model calls go through the hub's
gateway (`WFHUB_HUB_URL`), so the ledger sees them. It shares the hub's database: the same
tokens, projects and runs; leases keep the two processes off each other's runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI

from wfhub import __version__
from wfhub.agent.api_endpoints import router as agent_api_router
from wfhub.agent.workers import run_workers
from wfhub.config import Settings
from wfhub.db import Database, create_engine
from wfhub.errors import install_error_handlers
from wfhub.llm.backends import BackendPool, configured_backends
from wfhub.runs.live import RunEventsHub
from wfhub.sandbox.policy import Sandbox
from wfhub.security.auth import CredentialCache
from wfhub.security.guard import GuardMiddleware, HostPolicy


def agent_state(app: FastAPI, settings: Settings) -> None:
    """What the agent routes and the worker pool use, in either process."""
    app.state.settings = settings
    app.state.credential_cache = CredentialCache()
    app.state.sandbox = Sandbox.from_settings(settings)
    app.state.run_events = RunEventsHub()
    app.state.cancel_requested = set()
    app.state.agent_model = settings.default_model  # POST /api/model/switch changes it
    app.state.backend_pool = BackendPool(configured_backends(settings))


def create_agent_app(settings: Settings, database: Database | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.database = database or Database(create_engine(settings.resolved_database_url))
        pool: BackendPool = app.state.backend_pool
        probes = aiohttp.ClientSession()  # what `/api/models` lists comes from the backends
        pool.start(probes)
        try:
            async with run_workers(app, settings):
                yield
        finally:
            await pool.close()
            await probes.close()
            if owned:
                await app.state.database.dispose()

    app = FastAPI(
        title="wfhub agent API",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    agent_state(app, settings)
    install_error_handlers(app)
    app.include_router(agent_api_router)
    app.add_middleware(
        GuardMiddleware, policy=HostPolicy.from_settings(settings), settings=settings
    )
    return app
