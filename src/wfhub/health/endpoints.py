from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from wfhub import __version__
from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES
from wfhub.health import service
from wfhub.health.schemas import FullHealth, Health
from wfhub.security.auth import AuthDep

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: answers without touching the database. The only public route."""
    return Health(status="ok", version=__version__)


@router.get(
    "/health/full",
    response_model=FullHealth,
    dependencies=[AuthDep],
    responses={**ERROR_RESPONSES, 503: {"model": FullHealth, "description": "Database down"}},
)
async def health_full(request: Request, settings: SettingsDep) -> JSONResponse:
    """Database, model server, agent API and disk, each with status and latency."""
    report = await service.full_report(
        settings, request.app.state.database, request.app.state.http, __version__
    )
    return JSONResponse(report.model_dump(), status_code=503 if report.status == "down" else 200)
