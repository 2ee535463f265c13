"""Model-server routes: status of every host and restarts (original API shapes)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Request

from wfhub.errors import ERROR_RESPONSES
from wfhub.ops.schemas import OllamaStatus, RestartRead, RestartRequest
from wfhub.ops.service import ModelServerOps
from wfhub.security.auth import AuthDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["model server"], dependencies=[AuthDep], responses=ERROR_RESPONSES)
RestartBody = Annotated[RestartRequest | None, Body()]


def _ops(request: Request) -> ModelServerOps:
    ops: ModelServerOps = request.app.state.model_ops
    return ops


@router.get("/ollama/status", response_model=OllamaStatus)
async def status(request: Request) -> OllamaStatus:
    """Each model host's state from a real 1-token generation probe (with its duration),
    the models it has and has loaded, its container and supervisor state."""
    return await _ops(request).status()


async def _restart(request: Request, only: str | None, body: RestartRequest | None) -> RestartRead:
    """The outcome in the original's shape. A restart that was carried out but did not bring
    the server back is reported with `success: false` and status 200, as the original did:
    the request was valid and the attempts say what happened."""
    if body is not None and body.reason:
        log.info("restart requested: %s", body.reason)
    return await _ops(request).restart(only)


@router.post("/ollama/restart", response_model=RestartRead)
async def restart(request: Request, body: RestartBody = None) -> RestartRead:
    """Try the configured methods in order (`WFHUB_RESTART_METHODS`) until the server
    answers a generation again; a restart in progress is joined."""
    return await _restart(request, None, body)


@router.post("/ollama/restart/local", response_model=RestartRead)
async def restart_local(request: Request, body: RestartBody = None) -> RestartRead:
    """Restart the embedded model server through the supervisor of `wfhub serve`."""
    return await _restart(request, "local", body)


@router.post("/ollama/restart/ssh", response_model=RestartRead)
async def restart_ssh(request: Request, body: RestartBody = None) -> RestartRead:
    """Run the restart command on the model host over SSH."""
    return await _restart(request, "ssh", body)


@router.post("/ollama/restart/container", response_model=RestartRead)
async def restart_container(request: Request, body: RestartBody = None) -> RestartRead:
    """Restart the model server's container through the Docker Engine."""
    return await _restart(request, "container", body)
