"""The ledger API (`/llm/requests`, `/llm/usage`) and the models across backends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from wfhub.db import SessionDep
from wfhub.errors import ERROR_RESPONSES, InvalidInput
from wfhub.llm import repository
from wfhub.llm.backends import BackendPool
from wfhub.llm.schemas import (
    BackendModels,
    GroupBy,
    LlmRequestPage,
    LlmRequestRead,
    ModelsRead,
    Usage,
)
from wfhub.schemas import INT32_MAX
from wfhub.security.auth import AuthDep

router = APIRouter(tags=["llm"], dependencies=[AuthDep], responses=ERROR_RESPONSES)

OptionalId = Annotated[int | None, Query(ge=1, le=INT32_MAX)]
# No control characters: PostgreSQL cannot compare against a string holding NUL (a 500).
ModelName = Annotated[
    str | None, Query(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")
]


async def _filter(
    model: ModelName = None,
    project_id: OptionalId = None,
    task_id: OptionalId = None,
    run_id: OptionalId = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601.")] = None,
) -> repository.LedgerFilter:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"`{name}` needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    if since is not None and until is not None and since >= until:
        raise InvalidInput("`since` must be before `until`")
    return repository.LedgerFilter(model, project_id, task_id, run_id, since, until)


FilterDep = Annotated[repository.LedgerFilter, Depends(_filter)]


@router.get("/llm/requests", response_model=LlmRequestPage)
async def list_requests(
    session: SessionDep,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: OptionalId = None,
) -> LlmRequestPage:
    """Ledger rows, newest first, filtered; page with `before_id`."""
    rows, next_id = await repository.page(session, where, limit, before_id)
    return LlmRequestPage(
        items=[LlmRequestRead.model_validate(r) for r in rows], next_before_id=next_id
    )


@router.get("/llm/usage", response_model=Usage)
async def usage(session: SessionDep, where: FilterDep, group_by: GroupBy = "model") -> Usage:
    """Requests, errors, tokens and latency percentiles per model, day, project, task or run."""
    return Usage(group_by=group_by, rows=await repository.usage(session, where, group_by))


@router.get("/ollama/models", response_model=ModelsRead)
async def models(request: Request) -> ModelsRead:
    """Models on every backend (as of the last health check) and which are loaded."""
    pool: BackendPool = request.app.state.backend_pool
    return ModelsRead(
        default_model=request.app.state.settings.default_model,
        backends=[
            BackendModels(
                backend=b.name,
                url=b.url,
                kind=b.kind,
                healthy=b.healthy,
                error=b.error,
                checked_at=b.checked_at,
                models=sorted(b.models),
                loaded=sorted(b.loaded),
            )
            for b in pool.backends
        ],
    )
