"""Service log routes: the list, recent lines, and a WebSocket that follows a log live.

Services are wfhub's own processes (`main-api`, `model-server`, and any other that writes a
log into this data dir, e.g. `agent-api` or `worker`) and, when `WFHUB_DOCKER_SOCKET` is set,
the Engine's containers as `container:<name>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from starlette.requests import HTTPConnection

from wfhub.config import Settings
from wfhub.errors import ERROR_RESPONSES, InvalidInput, NotFound, WfhubError, refuse_websocket
from wfhub.ops import logs
from wfhub.ops.container import DockerEngine
from wfhub.ops.log_follow import follow_file
from wfhub.ops.logs import LogRecordDict, log_path, services_on_disk
from wfhub.ops.schemas import LogLines, LogService, LogServices
from wfhub.ops.supervisor import ChildSupervisor
from wfhub.ops.websocket_tasks import stop_all
from wfhub.security.auth import AuthDep, authenticate

router = APIRouter(tags=["logs"])
CONTAINER = re.compile(r"^container:([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$")
MAX_TAIL = 10_000
Tail = Annotated[int, Query(ge=0, le=MAX_TAIL, description="Most recent lines to return.")]
Since = Annotated[datetime | None, Query(description="Only lines at or after (ISO 8601).")]


def _file_service(settings: Settings, name: str, supervisor: ChildSupervisor | None) -> LogService:
    path = log_path(settings, name)
    try:
        stat = path.stat()
        size, updated = stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()
    except FileNotFoundError:
        size, updated = None, None
    state, pid = "unknown", None
    if name == "main-api":
        state, pid = "running", os.getpid()
    elif name == "model-server" and supervisor is not None:
        state, pid = supervisor.state, supervisor.pid
    return LogService(
        name=name, kind="process", state=state, pid=pid, size_bytes=size, updated_at=updated
    )


def _docker(settings: Settings) -> DockerEngine | None:
    return DockerEngine(settings.docker_socket) if settings.docker_socket else None


@router.get("/logs", response_model=LogServices, dependencies=[AuthDep], responses=ERROR_RESPONSES)
async def list_services(request: Request) -> LogServices:
    """Every service with a log: its state, pid, log size and last write."""
    settings: Settings = request.app.state.settings
    supervisor: ChildSupervisor | None = request.app.state.model_supervisor
    names = ["main-api", *(["model-server"] if supervisor else [])]
    names += [n for n in services_on_disk(settings) if n not in names]
    services = [_file_service(settings, n, supervisor) for n in names]
    docker = _docker(settings)
    if docker is not None:
        services += [
            LogService(
                name=f"container:{name}",
                kind="container",
                state=state,
                pid=None,
                size_bytes=None,
                updated_at=None,
            )
            for name, state in await docker.containers()
        ]
    return LogServices(services=services)


def _since(since: datetime | None) -> datetime | None:
    if since is not None and since.tzinfo is None:
        raise InvalidInput("`since` needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return since


def _container(settings: Settings, service: str) -> tuple[DockerEngine, str] | None:
    match = CONTAINER.match(service)
    if match is None:
        return None
    docker = _docker(settings)
    if docker is None:
        raise NotFound("container logs need WFHUB_DOCKER_SOCKET")
    return docker, match.group(1)


def _known_file(request: HTTPConnection, service: str) -> None:
    settings: Settings = request.app.state.settings
    if service == "main-api" or log_path(settings, service).exists():
        return
    if service == "model-server" and request.app.state.model_supervisor is not None:
        return
    raise NotFound(f"no service {service!r} has a log here (see GET /logs)")


@router.get(
    "/logs/{service}", response_model=LogLines, dependencies=[AuthDep], responses=ERROR_RESPONSES
)
async def recent_lines(
    request: Request, service: str, tail: Tail = 200, since: Since = None
) -> LogLines:
    """The last `tail` lines (oldest first), optionally only those at or after `since`."""
    settings: Settings = request.app.state.settings
    since = _since(since)
    container = _container(settings, service)
    if container is not None:
        docker, name = container
        lines = [r async for r in docker.logs(name, tail, since, follow=False)]
        return LogLines(service=service, lines=lines)
    _known_file(request, service)
    found, _ = await asyncio.to_thread(logs.tail, log_path(settings, service), tail, since)
    return LogLines(service=service, lines=found)


def _query_int(websocket: WebSocket, name: str, default: int, high: int) -> int:
    value = websocket.query_params.get(name, str(default))
    if not value.isdigit() or int(value) > high:
        raise InvalidInput(f"{name} must be a whole number from 0 to {high}")
    return int(value)


def _query_since(websocket: WebSocket) -> datetime | None:
    value = websocket.query_params.get("since")
    if value is None:
        return None
    try:
        return _since(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidInput(f"since: {exc}") from exc


async def _file_lines(
    path: Path, count: int, since: datetime | None
) -> AsyncIterator[LogRecordDict]:
    recent, offset = await asyncio.to_thread(logs.tail, path, count, since)
    for entry in recent:
        yield entry
    async for entry in follow_file(path, offset):
        yield entry


@router.websocket("/logs/{service}/stream")
async def stream(websocket: WebSocket, service: str) -> None:
    """The last `?tail=` lines (default 50; `?since=` filters them), then every new line as
    it is written, one JSON text frame per line. Refusals answer the handshake."""
    settings: Settings = websocket.app.state.settings
    try:
        await authenticate(websocket)
        count = _query_int(websocket, "tail", 50, MAX_TAIL)
        since = _query_since(websocket)
        container = _container(settings, service)
        if container is None:
            _known_file(websocket, service)
            lines = _file_lines(log_path(settings, service), count, since)
        else:
            docker, name = container
            if await docker.status(name) == "not_found":
                raise NotFound(f"no container {name!r}")
            lines = docker.logs(name, count, since, follow=True)
    except WfhubError as error:
        await refuse_websocket(websocket, error)
        return
    await websocket.accept()
    await _relay(websocket, lines)


async def _relay(websocket: WebSocket, lines: AsyncIterator[LogRecordDict]) -> None:
    async def send_lines() -> None:
        async for entry in lines:
            await websocket.send_text(json.dumps(entry, ensure_ascii=False))
        await websocket.close(code=1000)

    async def wait_for_close() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    tasks = [asyncio.create_task(send_lines()), asyncio.create_task(wait_for_close())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await stop_all(tasks)
        with contextlib.suppress(RuntimeError):
            await lines.aclose()  # type: ignore[attr-defined]
