"""Task HTTP routes: lists (flat or tree), CRUD, subtasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from wfhub.db import SessionDep
from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES, InvalidInput
from wfhub.models import TaskStatus
from wfhub.schemas import INT32_MAX, IdPath, Limit, Offset, Page, SearchText
from wfhub.security.auth import AuthDep
from wfhub.tasks import service
from wfhub.tasks.schemas import SubtaskCreate, TaskCreate, TaskRead, TaskTree, TaskUpdate
from wfhub.tasks.service import ROOT, TaskFilter

router = APIRouter(tags=["tasks"], dependencies=[AuthDep], responses=ERROR_RESPONSES)

Cascade = Annotated[bool, Query(description="Also delete the task's subtasks.")]
Tree = Annotated[bool, Query(description="Nest subtasks under `children` (one query).")]
ParentFilter = Annotated[
    str | None,
    Query(
        pattern=r"^(root|[1-9][0-9]{0,9})$",
        description="`root` for top-level tasks, or a parent task id.",
    ),
]


def _parent(value: str | None) -> int | str | None:
    if value is None or value == ROOT:
        return value
    number = int(value)
    if number > INT32_MAX:
        raise InvalidInput(f"parent must be at most {INT32_MAX}")
    return number


@router.get("/tasks/{project_id}/tasks", response_model=Page[TaskTree] | Page[TaskRead])
@router.get("/projects/{project_id}/tasks", response_model=Page[TaskTree] | Page[TaskRead])
async def list_tasks(
    project_id: IdPath,
    session: SessionDep,
    tree: Tree = False,
    status: TaskStatus | None = None,
    parent: ParentFilter = None,
    q: SearchText = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[TaskRead] | Response:
    """The project's tasks; with `tree=true` a page of roots with nested subtasks."""
    filters = TaskFilter(status=status, parent=_parent(parent), q=q)
    if tree:
        roots, total = await service.tree_page(
            session, project_id, filters, limit=limit, offset=offset
        )
        # Already in the TaskTree shape; returning a Response skips re-validating every node.
        page = {"items": roots, "total": total, "limit": limit, "offset": offset}
        return Response(service.tree_json(page), media_type="application/json")
    items, total = await service.list_page(session, project_id, filters, limit=limit, offset=offset)
    return Page[TaskRead](
        items=[TaskRead.model_validate(t) for t in items], total=total, limit=limit, offset=offset
    )


@router.post("/tasks/{project_id}/tasks", response_model=TaskRead, status_code=201)
@router.post("/projects/{project_id}/tasks", response_model=TaskRead, status_code=201)
async def create_task(project_id: IdPath, body: TaskCreate, session: SessionDep) -> TaskRead:
    return TaskRead.model_validate(await service.create(session, project_id, body))


@router.get("/tasks/{task_id}", response_model=TaskRead)
async def get_task(task_id: IdPath, session: SessionDep) -> TaskRead:
    return TaskRead.model_validate(await service.get(session, task_id))


@router.patch("/tasks/{task_id}", response_model=TaskRead)
async def update_task(task_id: IdPath, body: TaskUpdate, session: SessionDep) -> TaskRead:
    """Change fields; sending `parent_id` moves the task and its subtree (cycles refused)."""
    return TaskRead.model_validate(await service.update(session, task_id, body))


@router.put("/tasks/{task_id}", response_model=TaskRead)
async def replace_task(task_id: IdPath, body: TaskCreate, session: SessionDep) -> TaskRead:
    return TaskRead.model_validate(await service.replace(session, task_id, body))


@router.delete("/tasks/{task_id}", status_code=204)
async def delete_task(
    task_id: IdPath, session: SessionDep, settings: SettingsDep, cascade: Cascade = False
) -> Response:
    await service.delete(
        session, task_id, cascade=cascade, attachments_dir=settings.attachments_dir
    )
    return Response(status_code=204)


@router.get("/tasks/{task_id}/subtasks", response_model=Page[TaskRead])
async def list_subtasks(
    task_id: IdPath, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[TaskRead]:
    items, total = await service.list_subtasks(session, task_id, limit=limit, offset=offset)
    return Page[TaskRead](
        items=[TaskRead.model_validate(t) for t in items], total=total, limit=limit, offset=offset
    )


@router.post("/tasks/{task_id}/subtasks", response_model=TaskRead, status_code=201)
async def create_subtask(task_id: IdPath, body: SubtaskCreate, session: SessionDep) -> TaskRead:
    return TaskRead.model_validate(await service.create_subtask(session, task_id, body))
