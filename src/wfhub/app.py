"""create_app(settings): the main API, with its lifespan and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from wfhub import __version__
from wfhub.agent.api_endpoints import router as agent_api_router
from wfhub.agent.app import agent_state
from wfhub.agent.workers import run_workers
from wfhub.config import Settings
from wfhub.db import Database, create_engine
from wfhub.errors import install_error_handlers
from wfhub.health.endpoints import router as health_router
from wfhub.llm.backends import BackendPool
from wfhub.llm.endpoints import router as llm_router
from wfhub.llm.gateway import Gateway, GatewayMiddleware
from wfhub.llm.ledger import LedgerWriter
from wfhub.ops.endpoints import router as model_server_router
from wfhub.ops.log_endpoints import router as logs_router
from wfhub.ops.service import ModelServerOps
from wfhub.ops.supervisor import ChildSupervisor
from wfhub.ops.terminal import TerminalSlots
from wfhub.ops.terminal_endpoints import router as terminal_router
from wfhub.projects.endpoints import router as projects_router
from wfhub.runs.endpoints import router as runs_router
from wfhub.security.auth import AuthDep
from wfhub.security.endpoints import router as auth_router
from wfhub.security.guard import GuardMiddleware, HostPolicy
from wfhub.tasks import attachments
from wfhub.tasks.details_endpoints import router as task_details_router
from wfhub.tasks.endpoints import router as tasks_router
from wfhub.tasks.tree_cache import TreeCache
from wfhub.workflows.endpoints import router as nodes_router
from wfhub.workspace.endpoints import router as workspace_router
from wfhub.workspace.git_endpoints import router as workspace_git_router
from wfhub.workspace.git_status import BadgeCache


def _shared_state(
    app: FastAPI, settings: Settings, model_supervisor: ChildSupervisor | None
) -> None:
    """What every request may use, made before the lifespan opens connections."""
    agent_state(app, settings)
    app.state.badge_cache = BadgeCache()
    app.state.tree_cache = TreeCache()
    app.state.terminal_slots = TerminalSlots()
    app.state.model_supervisor = model_supervisor


def create_app(
    settings: Settings,
    database: Database | None = None,
    model_supervisor: ChildSupervisor | None = None,
) -> FastAPI:
    """The main API. `database` is opened from settings when not given (tests pass one);
    `model_supervisor` is the embedded model server `wfhub serve` runs, if any."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.database = database or Database(create_engine(settings.resolved_database_url))
        app.state.http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), trust_env=False)
        async with app.state.database.unit_of_work(write=False) as session:
            await attachments.sweep(session, settings.attachments_dir)
        ledger = LedgerWriter(app.state.database)
        ledger.start()
        gateway = Gateway(settings, app.state.backend_pool, ledger)
        app.state.ledger, app.state.gateway = ledger, gateway
        pool: BackendPool = app.state.backend_pool
        pool.start(gateway.session)
        # Probes bring their own deadline (a cold model can take a while to load).
        ops_client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0), trust_env=False)
        app.state.model_ops = ModelServerOps(
            settings, pool, model_supervisor, ops_client, lambda: pool.refresh(gateway.session)
        )
        try:
            async with run_workers(app, settings):  # runs stop first: they use the rest
                yield
        finally:
            await ops_client.aclose()
            await pool.close()
            await gateway.close()
            await ledger.close()
            await app.state.http.aclose()
            if owned:
                await app.state.database.dispose()

    app = FastAPI(
        title="wfhub",
        version=__version__,
        summary="Workflow Hub: projects, tasks and coding agents on local LLMs.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    _shared_state(app, settings, model_supervisor)
    if database is not None:
        app.state.database = database
    install_error_handlers(app)
    for router in (
        health_router,
        auth_router,
        projects_router,
        tasks_router,
        task_details_router,
        nodes_router,
        workspace_router,
        workspace_git_router,
        llm_router,
        runs_router,
        model_server_router,
        logs_router,
        terminal_router,
    ):
        app.include_router(router)
    app.include_router(agent_api_router, prefix="/agent")

    @app.get("/openapi.json", include_in_schema=False, dependencies=[AuthDep])
    async def openapi() -> JSONResponse:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
        return JSONResponse(app.openapi_schema)

    app.add_middleware(GatewayMiddleware)
    app.add_middleware(
        GuardMiddleware, policy=HostPolicy.from_settings(settings), settings=settings
    )
    return app
