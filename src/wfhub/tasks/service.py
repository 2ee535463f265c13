"""Tasks and their hierarchy. No HTTP here; callers commit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, bindparam, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.db import Database
from wfhub.errors import HasChildren, InvalidInput, NotFound, TaskCycle
from wfhub.models import Project, Task, TaskNode, TaskStatus
from wfhub.projects import service as projects
from wfhub.tasks import attachments, repository
from wfhub.tasks.schemas import SubtaskCreate, TaskCreate, TaskRead, TaskUpdate
from wfhub.tasks.tree_cache import TreeCache, TreeStamp

MAX_DEPTH = 32
_BY_ID = select(*Task.__table__.c).where(Task.id == bindparam("id"))
ROOT = "root"


@dataclass(frozen=True)
class TaskFilter:
    status: TaskStatus | None = None
    parent: int | str | None = None  # a task id, ROOT for top-level tasks, None for all
    q: str | None = None

    def clauses(self, project_id: int) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [Task.project_id == project_id]
        if self.status is not None:
            where.append(Task.status == self.status)
        if self.parent == ROOT:
            where.append(Task.parent_id.is_(None))
        elif isinstance(self.parent, int):
            where.append(Task.parent_id == self.parent)
        if self.q:
            pattern = f"%{projects.escape_like(self.q)}%"
            where.append(
                or_(
                    Task.title.ilike(pattern, escape="\\"),
                    Task.description.ilike(pattern, escape="\\"),
                )
            )
        return where


async def get(session: AsyncSession, task_id: int) -> Task:
    """The task, or NotFound."""
    task = await session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task


async def read(database: Database, task_id: int) -> TaskRead:
    """The task as returned by the API (one statement, no session), or NotFound."""
    row = await database.read_one(_BY_ID, {"id": task_id})
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return TaskRead.model_validate(row)


async def list_page(
    session: AsyncSession, project_id: int, filters: TaskFilter, *, limit: int, offset: int
) -> tuple[list[Task], int]:
    """A flat page of the project's tasks (by position) and the total that match."""
    await projects.get(session, project_id)
    where = filters.clauses(project_id)
    total = await session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    rows = await session.scalars(
        select(Task).where(*where).order_by(Task.position, Task.id).limit(limit).offset(offset)
    )
    return list(rows), total


async def tree_stamp(session: AsyncSession, project_id: int) -> TreeStamp:
    """The project's current task version (one indexed read), or NotFound."""
    row = (
        await session.execute(
            select(Project.created_at, Project.tasks_version).where(Project.id == project_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"project {project_id} does not exist")
    return TreeStamp(project_id, row.created_at, row.tasks_version)


async def tree_json(
    session: AsyncSession,
    cache: TreeCache,
    stamp: TreeStamp,
    filters: TaskFilter,
    *,
    limit: int,
    offset: int,
) -> bytes:
    """The encoded tree page for the project state `stamp` (from `tree_stamp`), from the
    cache when the project's tasks have not changed since it was built."""
    query = (filters, limit, offset)
    body = cache.get(stamp, query)
    if body is None:
        roots, total = await _tree_page(session, stamp.project_id, filters, limit, offset)
        page = {"items": roots, "total": total, "limit": limit, "offset": offset}
        # Naive timestamps (SQLite) are UTC, written with a `Z` like pydantic.
        body = orjson.dumps(page, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
        cache.put(stamp, query, body)
    return body


async def _tree_page(
    session: AsyncSession, project_id: int, filters: TaskFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of root tasks, each with its whole subtree nested under `children`.

    Roots are the top-level tasks unless `filters.parent` names another parent; the other
    filters select roots. Three queries whatever the number of tasks. The nodes are plain
    dicts in the `TaskTree` shape: validating thousands of nested models cost ten times the
    query (measured in `bench/api.py`).
    """
    if filters.parent is None:
        filters = TaskFilter(status=filters.status, parent=ROOT, q=filters.q)
    where = filters.clauses(project_id)
    total = await session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    root_ids = list(
        await session.scalars(
            select(Task.id)
            .where(*where)
            .order_by(Task.position, Task.id)
            .limit(limit)
            .offset(offset)
        )
    )
    roots = set(root_ids)
    nodes: dict[int, dict[str, Any]] = {}
    for node in await repository.load_subtrees(session, root_ids):
        node["children"] = []
        nodes[node["id"]] = node
        parent = nodes.get(node["parent_id"]) if node["parent_id"] is not None else None
        if parent is not None and node["id"] not in roots:
            parent["children"].append(node)
    return [nodes[i] for i in root_ids if i in nodes], total


async def _check_node(session: AsyncSession, node_id: int | None) -> None:
    if node_id is not None and await session.get(TaskNode, node_id) is None:
        raise InvalidInput(f"node {node_id} does not exist")


async def _parent_for(session: AsyncSession, project_id: int, parent_id: int) -> Task:
    parent = await session.get(Task, parent_id)
    if parent is None:
        raise InvalidInput(f"parent task {parent_id} does not exist")
    if parent.project_id != project_id:
        raise InvalidInput(f"parent task {parent_id} belongs to another project")
    return parent


async def create(session: AsyncSession, project_id: int, data: TaskCreate) -> Task:
    """Create a task in a project, under `parent_id` when given (same project)."""
    await projects.get(session, project_id)
    depth = 0
    if data.parent_id is not None:
        depth = (await _parent_for(session, project_id, data.parent_id)).depth + 1
        if depth > MAX_DEPTH:
            raise InvalidInput(f"tasks nest at most {MAX_DEPTH} levels deep")
    await _check_node(session, data.node_id)
    position = data.position
    if position is None:
        position = await repository.next_position(session, project_id, data.parent_id)
    task = Task(
        project_id=project_id,
        parent_id=data.parent_id,
        node_id=data.node_id,
        title=data.title,
        description=data.description,
        status=data.status,
        priority=data.priority,
        depth=depth,
        position=position,
    )
    session.add(task)
    await session.flush()
    return task


async def create_subtask(session: AsyncSession, parent_id: int, data: SubtaskCreate) -> Task:
    """Create a task under `parent_id`, in the parent's project."""
    parent = await get(session, parent_id)
    fields = TaskCreate(**data.model_dump(), parent_id=parent_id)
    return await create(session, parent.project_id, fields)


async def list_subtasks(
    session: AsyncSession, parent_id: int, *, limit: int, offset: int
) -> tuple[list[Task], int]:
    """Direct children of a task, by position."""
    parent = await get(session, parent_id)
    return await list_page(
        session, parent.project_id, TaskFilter(parent=parent_id), limit=limit, offset=offset
    )


async def update(session: AsyncSession, task_id: int, data: TaskUpdate) -> Task:
    """PATCH a task. Sending `parent_id` (or null) moves it with its subtree."""
    task = await get(session, task_id)
    changes = data.model_dump(exclude_unset=True)
    if "parent_id" in changes and changes["parent_id"] != task.parent_id:
        await _move(session, task, changes.pop("parent_id"), changes.get("position"))
    changes.pop("parent_id", None)
    if "node_id" in changes:
        await _check_node(session, changes["node_id"])
    for field in ("title", "description", "status", "priority", "position"):
        if changes.get(field) is None:
            changes.pop(field, None)
    for field, value in changes.items():
        setattr(task, field, value)
    await session.flush()
    return task


async def replace(session: AsyncSession, task_id: int, data: TaskCreate) -> Task:
    """PUT a task: every field takes the sent value or its default (`parent_id` null = top)."""
    await get(session, task_id)
    return await update(session, task_id, TaskUpdate(**data.model_dump()))


async def _move(
    session: AsyncSession, task: Task, new_parent_id: int | None, position: int | None
) -> None:
    ids, deepest = await repository.subtree_stats(session, task.id)
    new_depth = 0
    if new_parent_id is not None:
        if new_parent_id in ids:
            raise TaskCycle(f"task {new_parent_id} is inside task {task.id}'s subtree")
        new_depth = (await _parent_for(session, task.project_id, new_parent_id)).depth + 1
    delta = new_depth - task.depth
    if deepest + delta > MAX_DEPTH:
        raise InvalidInput(f"the move would nest tasks deeper than {MAX_DEPTH} levels")
    if position is None:
        position = await repository.next_position(session, task.project_id, new_parent_id)
    if delta:
        await session.execute(
            sql_update(Task)
            .where(Task.id.in_(sorted(ids)))
            .values(depth=Task.depth + delta)
            .execution_options(synchronize_session=False)
        )
    await session.refresh(task)
    task.parent_id = new_parent_id
    task.position = position


async def delete(
    session: AsyncSession, task_id: int, *, cascade: bool, attachments_dir: Path
) -> None:
    """Delete a task; one with subtasks needs `cascade` and takes its subtree with it."""
    task = await get(session, task_id)
    children = await session.scalar(
        select(func.count()).select_from(Task).where(Task.parent_id == task_id)
    )
    if children and not cascade:
        raise HasChildren(
            f"task {task_id} has {children} subtask(s); "
            "repeat with ?cascade=true to delete them too"
        )
    tree = repository.subtree_ids([task_id])
    await attachments.release_on_commit(session, attachments_dir, select(tree.c.id))
    await session.delete(task)
    await session.flush()
