"""Run routes: start, list, summary, live events (SSE, resumable) and cancel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from wfhub.db import Database, SessionDep, after_commit
from wfhub.engines import install as engines
from wfhub.errors import ERROR_RESPONSES, Conflict, InvalidInput, SandboxUnavailable
from wfhub.models import RunStatus
from wfhub.runs import service
from wfhub.runs.executor import CANCEL_WAIT_SECONDS, RunExecutor
from wfhub.runs.leases import Leases
from wfhub.runs.live import RunEventsHub, woken
from wfhub.runs.schemas import RunCreate, RunRead, RunSummary
from wfhub.sandbox.policy import Sandbox, SandboxMode
from wfhub.schemas import INT32_MAX, IdPath
from wfhub.security.auth import AuthDep

router = APIRouter(tags=["runs"], dependencies=[AuthDep], responses=ERROR_RESPONSES)
HEARTBEAT_SECONDS = 15.0
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}
}
After = Annotated[int | None, Query(ge=0, le=INT32_MAX, description="Send events after this seq.")]


def refuse_unrunnable(request: Request, engine: str) -> None:
    """Raise unless a run of `engine` can start here: sandbox usable, engine installed."""
    sandbox: Sandbox = request.app.state.sandbox
    if sandbox.mode is SandboxMode.unavailable:
        raise SandboxUnavailable(f"agent runs need the sandbox: {sandbox.describe()}")
    if engine != "native":
        engines.require(request.app.state.settings, engine)


@router.post("/tasks/{task_id}/runs", response_model=RunRead, status_code=202)
async def start_run(
    task_id: IdPath, body: RunCreate, session: SessionDep, request: Request
) -> RunRead:
    """Queue a run of the task; it starts once the request has committed. Returns at once.
    Refused (503) when bubblewrap is missing and unsandboxed commands were not allowed, and
    (409) when the engine asked for is not installed."""
    refuse_unrunnable(request, body.engine)
    executor: RunExecutor = request.app.state.executor
    run = await service.create(
        session, task_id, body, request.app.state.agent_model, executor.owner
    )
    run_id = run.id

    async def submit() -> None:
        executor.submit(run_id)

    after_commit(session, submit)
    return RunRead.model_validate(run)


@router.get("/tasks/{task_id}/runs", response_model=list[RunRead])
async def list_runs(task_id: IdPath, session: SessionDep) -> list[RunRead]:
    """The task's runs, newest first."""
    return [RunRead.model_validate(r) for r in await service.list_for_task(session, task_id)]


@router.get("/runs/{run_id}", response_model=RunSummary)
async def get_run(run_id: IdPath, session: SessionDep) -> RunSummary:
    """The run with token totals and the time spent waiting on the model (ledger)."""
    return await service.summary(session, run_id)


@router.post("/runs/{run_id}/cancel", response_model=RunRead, status_code=202)
async def cancel_run(run_id: IdPath, request: Request) -> RunRead:
    """Stop the run (its sandboxed commands are killed), whichever process executes it; a
    finished run gives 409."""
    database: Database = request.app.state.database
    async with database.unit_of_work(write=False) as session:
        run = await service.get(session, run_id)
        if run.status in service.FINISHED:
            raise Conflict(f"run {run_id} already ended ({run.status.value})")
    executor: RunExecutor = request.app.state.executor
    leases: Leases = request.app.state.leases
    cancel_requested: set[int] = request.app.state.cancel_requested
    cancel_requested.add(run_id)
    if not await executor.cancel(run_id):
        cancel_requested.discard(run_id)
        if await leases.held_elsewhere(run_id):  # its owner cancels it on its next look
            await _ended_within(database, run_id, CANCEL_WAIT_SECONDS)
        else:  # nobody executes it (never started, or its process died): settle it here
            async with database.unit_of_work() as session:
                run = await service.get(session, run_id)
                await service.set_status(session, run, RunStatus.cancelled, error="cancelled")
            await service.append_event(database, run_id, "status", {"status": "cancelled"})
    async with database.unit_of_work(write=False) as session:
        return RunRead.model_validate(await service.get(session, run_id))


async def _ended_within(database: Database, run_id: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with database.unit_of_work(write=False) as session:
            if await service.has_ended(session, run_id):
                return
        await asyncio.sleep(0.2)


def _sse(seq: int, type_: str, payload: object) -> bytes:
    return f"id: {seq}\nevent: {type_}\ndata: {json.dumps(payload)}\n\n".encode()


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses=EVENT_STREAM,
)
async def run_events(
    run_id: IdPath,
    request: Request,
    after: After = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The run's events as Server-Sent Events (`id` = seq, `event` = type, `data` = JSON),
    live until the run ends. Resume with `Last-Event-ID` (or `?after=`): nothing is lost or
    sent twice."""
    database: Database = request.app.state.database
    hub: RunEventsHub = request.app.state.run_events
    start = after or 0
    if last_event_id is not None:
        if not last_event_id.isdigit() or int(last_event_id) > INT32_MAX:
            raise InvalidInput("Last-Event-ID must be an event number")
        start = int(last_event_id)
    async with database.unit_of_work(write=False) as session:
        await service.get(session, run_id)

    async def stream() -> AsyncIterator[bytes]:
        last, quiet_since = start, time.monotonic()
        with hub.listen(run_id) as waiter:
            while True:
                async with database.unit_of_work(write=False) as session:
                    # Ended is read first: when it is true, the read after it holds the final
                    # event (read the other way round, that event could land in between).
                    ended = await service.has_ended(session, run_id)
                    events = await service.events_after(session, run_id, last)
                for event in events:
                    yield _sse(event.seq, event.type, event.payload)
                    last = event.seq
                if events:
                    quiet_since = time.monotonic()
                    continue
                if ended:
                    return
                if time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                    yield b": keep-alive\n\n"
                    quiet_since = time.monotonic()
                await woken(waiter)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
