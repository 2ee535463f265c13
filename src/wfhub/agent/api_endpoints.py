"""The agent API (the original `aider-api` role): mounted at `/agent` in `wfhub serve`, and
the whole of `wfhub agent-api` (port 8001), which serves the same routes at its root.

A `workspace` is named by its project's `workspace_path`; every file, search and shell
request is confined to that folder (the same tools, confinement and sandbox as an agent run)
and authenticated like every other route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from wfhub.agent.api_schemas import (
    AgentConfig,
    AgentRun,
    AgentRunStarted,
    BashRequest,
    GlobRequest,
    GrepRequest,
    InWorkspace,
    ModelSwitch,
    ReadRequest,
    ToolOutput,
    WriteRequest,
)
from wfhub.agent.tools import Toolbox
from wfhub.config import Settings
from wfhub.db import SessionDep, after_commit
from wfhub.errors import ERROR_RESPONSES, ModelNotFound, NotFound
from wfhub.llm.backends import BackendPool
from wfhub.models import Project
from wfhub.runs import endpoints as run_routes
from wfhub.runs import service as runs
from wfhub.runs.executor import RunExecutor
from wfhub.runs.schemas import RunCreate, RunOptions, RunRead, RunSummary
from wfhub.sandbox.policy import Sandbox
from wfhub.sandbox.process import Limits
from wfhub.schemas import IdPath
from wfhub.security.auth import AuthDep
from wfhub.tasks import service as tasks
from wfhub.tasks.schemas import TaskCreate
from wfhub.workspace.paths import split_path
from wfhub.workspace.service import root_of

router = APIRouter(tags=["agent api"], responses=ERROR_RESPONSES)
api = APIRouter(dependencies=[AuthDep])


async def _project(session: SessionDep, workspace: str) -> Project:
    split_path(workspace)  # refuses `..`, absolute paths, NUL
    project = await session.scalar(select(Project).where(Project.workspace_path == workspace))
    if project is None:
        raise NotFound(f"no project has the workspace {workspace!r}")
    return project


def _toolbox(request: Request, project: Project) -> Toolbox:
    settings: Settings = request.app.state.settings
    root = root_of(settings, project.workspace_path)
    if not root.is_dir():
        raise NotFound(f"the workspace folder {project.workspace_path!r} does not exist yet")
    limits = Limits(
        timeout_seconds=settings.agent_command_seconds,
        memory_bytes=settings.sandbox_memory_mb * 1024 * 1024,
    )
    return Toolbox(root, request.app.state.sandbox, limits, search_engine=settings.search_engine)


async def _run_tool(
    request: Request,
    session: SessionDep,
    body: InWorkspace,
    name: str,
    arguments: dict[str, object],
) -> ToolOutput:
    toolbox = _toolbox(request, await _project(session, body.workspace))
    output = await toolbox.invoke(name, arguments)
    return ToolOutput(ok=not output.startswith("error:"), output=output)


@router.get("/health")
async def health() -> dict[str, str]:
    """Public, like the main `/health` (details: the authenticated `/agent/api/config`)."""
    return {"status": "ok"}


@api.post("/api/agent/run", response_model=AgentRunStarted, status_code=202)
async def agent_run(body: AgentRun, request: Request, session: SessionDep) -> AgentRunStarted:
    """Record the request as a task of the workspace's project and start a run of it."""
    run_routes.refuse_unrunnable(request, body.engine)
    project = await _project(session, body.workspace)
    files = body.files
    title = body.task.strip().splitlines()[0][:200] or "Agent task"
    description = body.task + (("\n\nFiles to focus on: " + ", ".join(files)) if files else "")
    task = await tasks.create(session, project.id, TaskCreate(title=title, description=description))
    model = body.model or request.app.state.agent_model
    executor: RunExecutor = request.app.state.executor
    options = RunOptions(files=files)
    create = RunCreate(engine=body.engine, model=model, options=options)
    run = await runs.create(session, task.id, create, model, executor.owner)
    run_id = run.id

    async def submit() -> None:
        executor.submit(run_id)

    after_commit(session, submit)
    return AgentRunStarted(run_id=run.id, task_id=task.id, status=run.status.value)


@api.get("/api/runs/{run_id}", response_model=RunSummary)
async def agent_run_status(run_id: IdPath, session: SessionDep) -> RunSummary:
    """The run's summary (its live events: `GET /api/runs/{run_id}/events`)."""
    return await runs.summary(session, run_id)


@api.get(
    "/api/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses=run_routes.EVENT_STREAM,
)
async def agent_run_events(
    run_id: IdPath,
    request: Request,
    after: run_routes.After = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The run's live events, as `GET /runs/{run_id}/events` on the hub."""
    return await run_routes.run_events(run_id, request, after, last_event_id)


@api.post("/api/runs/{run_id}/cancel", response_model=RunRead, status_code=202)
async def agent_run_cancel(run_id: IdPath, request: Request) -> RunRead:
    """Stop the run, as `POST /runs/{run_id}/cancel` on the hub."""
    return await run_routes.cancel_run(run_id, request)


@api.post("/api/grep", response_model=ToolOutput)
async def grep(body: GrepRequest, request: Request, session: SessionDep) -> ToolOutput:
    arguments: dict[str, object] = {"pattern": body.pattern, "regex": body.regex}
    if body.glob:
        arguments["glob"] = body.glob
    return await _run_tool(request, session, body, "grep", arguments)


@api.post("/api/glob", response_model=ToolOutput)
async def glob(body: GlobRequest, request: Request, session: SessionDep) -> ToolOutput:
    return await _run_tool(request, session, body, "glob", {"pattern": body.pattern})


@api.post("/api/bash", response_model=ToolOutput)
async def bash(body: BashRequest, request: Request, session: SessionDep) -> ToolOutput:
    """A command in the sandbox (no network, only the workspace writable)."""
    return await _run_tool(request, session, body, "run_command", {"command": body.command})


@api.post("/api/read", response_model=ToolOutput)
async def read(body: ReadRequest, request: Request, session: SessionDep) -> ToolOutput:
    arguments: dict[str, object] = {"path": body.path}
    if body.start_line:
        arguments["start_line"] = body.start_line
    if body.end_line:
        arguments["end_line"] = body.end_line
    return await _run_tool(request, session, body, "read_file", arguments)


@api.post("/api/write", response_model=ToolOutput)
async def write(body: WriteRequest, request: Request, session: SessionDep) -> ToolOutput:
    arguments: dict[str, object] = {"path": body.path, "content": body.content}
    return await _run_tool(request, session, body, "write_file", arguments)


@api.get("/api/models")
async def models(request: Request) -> dict[str, object]:
    """Models the gateway's backends serve, and the one runs use by default."""
    pool: BackendPool = request.app.state.backend_pool
    names = sorted({m for b in pool.backends for m in b.models})
    return {"models": names, "current": request.app.state.agent_model}


@api.post("/api/model/switch")
async def switch_model(body: ModelSwitch, request: Request) -> dict[str, str]:
    """Make `model` the default of new runs (until wfhub restarts); it must be served."""
    pool: BackendPool = request.app.state.backend_pool
    if not any(b.serves(body.model) for b in pool.backends):
        raise ModelNotFound(f"no backend serves {body.model!r} (see GET /agent/api/models)")
    request.app.state.agent_model = body.model
    return {"model": body.model}


@api.get("/api/config", response_model=AgentConfig)
async def config(request: Request) -> AgentConfig:
    settings: Settings = request.app.state.settings
    sandbox: Sandbox = request.app.state.sandbox
    return AgentConfig(
        model=request.app.state.agent_model,
        max_iterations=settings.agent_max_iterations,
        max_tokens=settings.agent_max_tokens,
        timeout_seconds=settings.agent_timeout_seconds,
        command_seconds=settings.agent_command_seconds,
        constrained_calls=settings.agent_constrained_calls,
        run_concurrency=settings.run_concurrency,
        sandbox=sandbox.describe(),
    )


router.include_router(api)
