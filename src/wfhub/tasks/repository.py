"""Hierarchical task queries: one recursive CTE each, so the query count never grows with
the number of tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, DateTime, Select, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.models import Task


def subtree_ids(root_ids: Select[int] | Sequence[int]) -> CTE:
    """A CTE of the ids of the given tasks and all their descendants."""
    anchor = select(Task.id).where(Task.id.in_(root_ids))
    tree = anchor.cte("subtree", recursive=True)
    return tree.union_all(select(Task.id).join(tree, Task.parent_id == tree.c.id))


# Timestamps without the UTCDateTime decorator: its per-value Python hook was a fifth of the
# tree's cost. SQLite gives naive UTC values here; the tree encoder marks them UTC.
TASK_COLUMNS = (
    Task.id,
    Task.project_id,
    Task.parent_id,
    Task.node_id,
    Task.title,
    Task.description,
    Task.status,
    Task.depth,
    Task.position,
    Task.priority,
    type_coerce(Task.created_at, DateTime(timezone=True)).label("created_at"),
    type_coerce(Task.updated_at, DateTime(timezone=True)).label("updated_at"),
)


async def load_subtrees(session: AsyncSession, root_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every task under (and including) the roots, parents before children, siblings in order.

    Plain rows, not ORM objects: a 5,000-task tree is read-only and identity-mapping it would
    cost more than the query.
    """
    if not root_ids:
        return []
    tree = subtree_ids(root_ids)
    result = await session.execute(
        select(*TASK_COLUMNS)
        .where(Task.id.in_(select(tree.c.id)))
        .order_by(Task.depth, Task.position, Task.id)
    )
    names = list(result.keys())  # once: RowMapping looks the keys up again for every row
    return [dict(zip(names, row, strict=True)) for row in result]


async def subtree_stats(session: AsyncSession, task_id: int) -> tuple[set[int], int]:
    """Ids in the task's subtree (itself included) and the deepest depth among them."""
    tree = subtree_ids([task_id])
    rows = (
        await session.execute(select(Task.id, Task.depth).where(Task.id.in_(select(tree.c.id))))
    ).all()
    return {row.id for row in rows}, max((row.depth for row in rows), default=0)


async def next_position(session: AsyncSession, project_id: int, parent_id: int | None) -> int:
    stmt = select(func.max(Task.position)).where(
        Task.project_id == project_id,
        Task.parent_id.is_(None) if parent_id is None else Task.parent_id == parent_id,
    )
    current = await session.scalar(stmt)
    return 0 if current is None else current + 1
