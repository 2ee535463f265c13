"""Task HTTP routes: lists (flat or tree), CRUD, subtasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from wfhub.db import DatabaseDep, SessionDep
from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES, InvalidInput
from wfhub.models import TaskStatus
from wfhub.responses import JSON, etag_matches, model_response
from wfhub.schemas import INT32_MAX, IdPath, Limit, Offset, Page, SearchText
from wfhub.security.auth import AuthDep
from wfhub.tasks import service
from wfhub.tasks.schemas import SubtaskCreate, TaskCreate, TaskRead, TaskTree, TaskUpdate
from wfhub.tasks.service import ROOT, TaskFilter
from wfhub.tasks.tree_cache import TreeCache

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


@router.get(
    "/tasks/{project_id}/tasks",
    response_model=Page[TaskTree] | Page[TaskRead],
    responses={304: {"description": "The tree is unchanged since the ETag sent."}},
)
@router.get(
    "/projects/{project_id}/tasks",
    response_model=Page[TaskTree] | Page[TaskRead],
    responses={304: {"description": "The tree is unchanged since the ETag sent."}},
)
async def list_tasks(
    project_id: IdPath,
    session: SessionDep,
    request: Request,
    tree: Tree = False,
    status: TaskStatus | None = None,
    parent: ParentFilter = None,
    q: SearchText = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[TaskRead] | Response:
    """The project's tasks; with `tree=true` a page of roots with nested subtasks.

    Trees carry an `ETag`; sending it back in `If-None-Match` gets 304 while no task of the
    project has changed."""
    filters = TaskFilter(status=status, parent=_parent(parent), q=q)
    if tree:
        stamp = await service.tree_stamp(session, project_id)
        headers = {"ETag": stamp.etag, "Cache-Control": "no-cache"}
        if etag_matches(request.headers.get("if-none-match"), stamp.etag):
            return Response(status_code=304, headers=headers)
        cache: TreeCache = request.app.state.tree_cache
        body = await service.tree_json(session, cache, stamp, filters, limit=limit, offset=offset)
        return Response(body, media_type=JSON, headers=headers)
    items, total = await service.list_page(session, project_id, filters, limit=limit, offset=offset)
    return Page[TaskRead](
        items=[TaskRead.model_validate(t) for t in items], total=total, limit=limit, offset=offset
    )


@router.post("/tasks/{project_id}/tasks", response_model=TaskRead, status_code=201)
@router.post("/projects/{project_id}/tasks", response_model=TaskRead, status_code=201)
async def create_task(project_id: IdPath, body: TaskCreate, session: SessionDep) -> TaskRead:
    return TaskRead.model_validate(await service.create(session, project_id, body))


@router.get("/tasks/{task_id}", response_model=TaskRead)
async def get_task(task_id: IdPath, database: DatabaseDep) -> Response:
    return model_response(await service.read(database, task_id))


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
