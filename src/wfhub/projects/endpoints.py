from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from wfhub.db import DatabaseDep, SessionDep
from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES
from wfhub.projects import service
from wfhub.projects.schemas import ProjectCreate, ProjectCreateRequest, ProjectRead, ProjectUpdate
from wfhub.responses import model_response
from wfhub.schemas import IdPath, Limit, Offset, Page, SearchText
from wfhub.security.auth import AuthDep
from wfhub.workspace import service as workspace

router = APIRouter(
    prefix="/projects", tags=["projects"], dependencies=[AuthDep], responses=ERROR_RESPONSES
)
Cascade = Annotated[bool, Query(description="Also delete the project's tasks.")]


@router.get("", response_model=Page[ProjectRead])
async def list_projects(
    session: SessionDep, q: SearchText = None, limit: Limit = 100, offset: Offset = 0
) -> Page[ProjectRead]:
    items, total = await service.list_page(session, q=q, limit=limit, offset=offset)
    return Page(
        items=[ProjectRead.model_validate(p) for p in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("", response_model=ProjectRead, status_code=201)
async def create_project(
    body: ProjectCreateRequest, session: SessionDep, settings: SettingsDep
) -> ProjectRead:
    """Create a project; with `workspace` also its folder (a failure stores no project)."""
    project = await service.create(session, body)
    if body.workspace != "none":
        await workspace.prepare(settings, project.workspace_path, init_git=body.workspace == "init")
    return ProjectRead.model_validate(project)


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(project_id: IdPath, database: DatabaseDep) -> Response:
    return model_response(await service.read(database, project_id))


@router.put("/{project_id}", response_model=ProjectRead)
async def replace_project(
    project_id: IdPath, body: ProjectCreate, session: SessionDep
) -> ProjectRead:
    return ProjectRead.model_validate(await service.replace(session, project_id, body))


@router.patch("/{project_id}", response_model=ProjectRead)
async def update_project(
    project_id: IdPath, body: ProjectUpdate, session: SessionDep
) -> ProjectRead:
    return ProjectRead.model_validate(await service.update(session, project_id, body))


@router.delete("/{project_id}", status_code=204)
async def delete_project(
    project_id: IdPath, session: SessionDep, settings: SettingsDep, cascade: Cascade = False
) -> Response:
    await service.delete(
        session, project_id, cascade=cascade, attachments_dir=settings.attachments_dir
    )
    return Response(status_code=204)
