"""The run worker pool of a wfhub process (`wfhub serve` or `wfhub agent-api`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from wfhub.agent.checkpoints import Checkpoints
from wfhub.agent.runner import Runner, RunnerDeps
from wfhub.config import Settings
from wfhub.runs.executor import InProcessExecutor
from wfhub.runs.leases import Leases, owner_id


@asynccontextmanager
async def run_workers(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Executor, checkpoints and leases on `app.state` while the block runs; on the way in
    the runs a dead process left are adopted, on the way out this process's runs stop."""
    client = httpx.AsyncClient(trust_env=False)
    checkpoints = Checkpoints(settings.resolved_database_url)
    leases = Leases(app.state.database, owner_id(), settings.run_lease_seconds)
    deps = RunnerDeps(
        settings,
        app.state.database,
        app.state.sandbox,
        app.state.run_events,
        client,
        app.state.cancel_requested,
        checkpoints,
    )
    executor = InProcessExecutor(
        Runner(deps),
        settings.run_concurrency,
        leases,
        resume=settings.run_resume,
        cancel_requested=app.state.cancel_requested,
    )
    app.state.checkpoints, app.state.leases, app.state.executor = checkpoints, leases, executor
    await executor.start()
    try:
        yield
    finally:
        await executor.close()
        await checkpoints.close()
        await client.aclose()
