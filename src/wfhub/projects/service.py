"""Projects: create, read, update, delete. No HTTP here; callers commit."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.db import Database
from wfhub.errors import Conflict, HasChildren, NotFound
from wfhub.models import Project, Task
from wfhub.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate
from wfhub.tasks import attachments

_BY_ID = select(*Project.__table__.c).where(Project.id == bindparam("id"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100] or "project"


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get(session: AsyncSession, project_id: int) -> Project:
    """The project, or NotFound."""
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project


async def read(database: Database, project_id: int) -> ProjectRead:
    """The project as returned by the API (one statement, no session), or NotFound."""
    row = await database.read_one(_BY_ID, {"id": project_id})
    if row is None:
        raise NotFound(f"project {project_id} does not exist")
    return ProjectRead.model_validate(row)


async def list_page(
    session: AsyncSession, *, q: str | None, limit: int, offset: int
) -> tuple[list[Project], int]:
    """A page of projects ordered by name, optionally matching `q`, and the total count."""
    where = []
    if q:
        pattern = f"%{escape_like(q)}%"
        where.append(
            or_(
                Project.name.ilike(pattern, escape="\\"),
                Project.description.ilike(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(Project).where(*where)) or 0
    rows = await session.scalars(
        select(Project).where(*where).order_by(Project.name, Project.id).limit(limit).offset(offset)
    )
    return list(rows), total


async def _ensure_unique(
    session: AsyncSession, *, name: str | None, workspace_path: str | None, exclude: int | None
) -> None:
    checks = ((Project.name, name, "name"), (Project.workspace_path, workspace_path, "workspace"))
    for column, value, label in checks:
        if value is None:
            continue
        stmt = select(Project.id).where(column == value)
        if exclude is not None:
            stmt = stmt.where(Project.id != exclude)
        if await session.scalar(stmt) is not None:
            raise Conflict(f"a project with {label} {value!r} already exists")


async def _free_workspace_path(session: AsyncSession, name: str) -> str:
    base = _slug(name)
    taken = set(
        await session.scalars(
            select(Project.workspace_path).where(
                or_(Project.workspace_path == base, Project.workspace_path.like(f"{base}-%"))
            )
        )
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


async def create(session: AsyncSession, data: ProjectCreate) -> Project:
    """Create a project; its workspace path defaults to a free slug of its name."""
    await _ensure_unique(session, name=data.name, workspace_path=data.workspace_path, exclude=None)
    workspace_path = data.workspace_path or await _free_workspace_path(session, data.name)
    project = Project(
        name=data.name,
        workspace_path=workspace_path,
        environment=data.environment,
        description=data.description,
    )
    session.add(project)
    await session.flush()
    return project


async def replace(session: AsyncSession, project_id: int, data: ProjectCreate) -> Project:
    """PUT: every field is set; an omitted workspace path keeps the current one."""
    project = await get(session, project_id)
    update = ProjectUpdate(
        name=data.name,
        workspace_path=data.workspace_path or project.workspace_path,
        environment=data.environment,
        description=data.description,
    )
    return await _apply(session, project, update)


async def update(session: AsyncSession, project_id: int, data: ProjectUpdate) -> Project:
    """PATCH: only the fields sent change."""
    return await _apply(session, await get(session, project_id), data)


async def _apply(session: AsyncSession, project: Project, data: ProjectUpdate) -> Project:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    await _ensure_unique(
        session,
        name=changes.get("name"),
        workspace_path=changes.get("workspace_path"),
        exclude=project.id,
    )
    for field, value in changes.items():
        setattr(project, field, value)
    await session.flush()
    return project


async def delete(
    session: AsyncSession, project_id: int, *, cascade: bool, attachments_dir: Path
) -> None:
    """Delete a project; one with tasks needs `cascade` and takes its tasks with it."""
    project = await get(session, project_id)
    count = await session.scalar(
        select(func.count()).select_from(Task).where(Task.project_id == project_id)
    )
    if count and not cascade:
        raise HasChildren(
            f"project {project_id} has {count} task(s); "
            "repeat with ?cascade=true to delete them too"
        )
    await attachments.release_on_commit(
        session, attachments_dir, select(Task.id).where(Task.project_id == project_id)
    )
    await session.delete(project)
    await session.flush()
