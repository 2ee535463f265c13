"""The web terminal WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from wfhub.config import Settings
from wfhub.db import Database
from wfhub.errors import InvalidInput, NotFound, WfhubError, refuse_websocket
from wfhub.ops.terminal import MAX_DIMENSION, Terminal, TerminalSlots
from wfhub.ops.websocket_tasks import stop_all
from wfhub.sandbox.policy import Sandbox
from wfhub.schemas import INT32_MAX
from wfhub.security.auth import authenticate
from wfhub.workspace.service import open_workspace

router = APIRouter(tags=["terminal"])


def _dimension(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= MAX_DIMENSION:
        raise InvalidInput(f"{name} must be a whole number from 1 to {MAX_DIMENSION}")
    return int(value)


@router.websocket("/terminal/{project_id}")
async def terminal(websocket: WebSocket, project_id: int) -> None:
    """A shell in the project's workspace (sandboxed). Binary frames carry terminal bytes
    both ways; text frames are JSON control messages: `{"type": "resize", "cols", "rows"}`
    from the client, `{"type": "exit", "code"}` or `{"type": "closed", "reason"}` from us.
    `?cols=&rows=` set the first size. Refusals answer the handshake with the JSON error."""
    app = websocket.app
    settings: Settings = app.state.settings
    try:
        user = await authenticate(websocket)
        if not 1 <= project_id <= INT32_MAX:
            raise NotFound(f"project {project_id} does not exist")
        cols = _dimension(dict(websocket.query_params), "cols", 80)
        rows = _dimension(dict(websocket.query_params), "rows", 24)
        database: Database = app.state.database
        async with database.unit_of_work(write=False) as session:
            workspace = await open_workspace(session, settings, project_id)
        if not workspace.root.is_dir():
            raise NotFound(f"project {project_id} has no workspace folder yet")
        slots: TerminalSlots = app.state.terminal_slots
        with slots.take(user, settings.terminal_max_open):
            sandbox: Sandbox = app.state.sandbox
            term = await Terminal.open(
                sandbox, workspace.root, settings.sandbox_memory_mb * 1024 * 1024, cols, rows
            )
            try:
                await websocket.accept()
                await _relay(websocket, term, settings.terminal_idle_seconds)
            finally:
                await term.close()
    except WfhubError as error:
        if websocket.client_state.name == "CONNECTING":
            await refuse_websocket(websocket, error)


async def _relay(websocket: WebSocket, term: Terminal, idle_seconds: int) -> None:
    async def pump_output() -> dict[str, Any]:
        while data := await term.read():
            await websocket.send_bytes(data)
        return {"type": "exit", "code": await term.close()}

    async def pump_input() -> dict[str, Any]:
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), idle_seconds)
            except TimeoutError:
                return {"type": "closed", "reason": f"no input for {idle_seconds} s"}
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if message.get("bytes") is not None:
                await term.write(message["bytes"])
            elif message.get("text") is not None:
                _control(term, message["text"])

    tasks = [asyncio.create_task(pump_output()), asyncio.create_task(pump_input())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finished = done.pop()
        if finished.exception() is None:
            await websocket.send_text(json.dumps(finished.result()))
            await websocket.close(code=1000)
    except WebSocketDisconnect:
        pass
    finally:
        await stop_all(tasks)


def _control(term: Terminal, text: str) -> None:
    """Apply a control message; anything malformed is ignored rather than ending the shell."""
    with contextlib.suppress(ValueError, TypeError, InvalidInput):
        message = json.loads(text)
        if isinstance(message, dict) and message.get("type") == "resize":
            dims = {k: str(message.get(k)) for k in ("cols", "rows")}
            term.resize(_dimension(dims, "cols", 80), _dimension(dims, "rows", 24))
