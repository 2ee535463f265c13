"""Workflow nodes: the steps (agent, tool, condition) and their pass/fail routing."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.errors import Conflict, InvalidInput, NotFound
from wfhub.models import Task, TaskNode
from wfhub.workflows.schemas import NodeCreate, NodeFields, NodeUpdate

ROUTES = ("on_pass", "on_fail")


async def list_all(session: AsyncSession) -> list[TaskNode]:
    """Every node, by name (a workflow has a handful, so no paging)."""
    return list(await session.scalars(select(TaskNode).order_by(TaskNode.name)))


async def get(session: AsyncSession, node_id: int) -> TaskNode:
    """The node, or NotFound."""
    node = await session.get(TaskNode, node_id)
    if node is None:
        raise NotFound(f"node {node_id} does not exist")
    return node


async def _names(session: AsyncSession) -> dict[str, int]:
    return {name: id_ for id_, name in await session.execute(select(TaskNode.id, TaskNode.name))}


def _check_routing(routing: dict[str, Any], known: set[str]) -> None:
    for key in ROUTES:
        target = routing.get(key)
        if target is not None and target not in known:
            raise InvalidInput(f"routing {key} names node {target!r}, which does not exist")


async def create(session: AsyncSession, data: NodeCreate) -> TaskNode:
    """Create a node; routing may name existing nodes or the node itself."""
    names = await _names(session)
    if data.name in names:
        raise Conflict(f"a node named {data.name!r} already exists")
    routing = data.routing_config.model_dump()
    _check_routing(routing, {*names, data.name})
    node = TaskNode(**data.model_dump(exclude={"routing_config"}), routing_config=routing)
    session.add(node)
    await session.flush()
    return node


async def update(session: AsyncSession, node_id: int, data: NodeUpdate) -> TaskNode:
    """PATCH a node. A rename rewrites the routing of nodes that pointed at the old name."""
    node = await get(session, node_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "model" in data.model_fields_set:
        changes["model"] = data.model
    try:
        merged = NodeFields.model_validate(
            {**_fields_of(node), **{k: v for k, v in changes.items() if k != "name"}}
        )
    except ValidationError as exc:
        # The change is valid alone but not with the node's other fields (a tool with no command).
        raise InvalidInput("; ".join(e["msg"] for e in exc.errors())) from exc
    names = await _names(session)
    new_name = changes.get("name", node.name)
    if new_name != node.name and new_name in names:
        raise Conflict(f"a node named {new_name!r} already exists")
    known = (set(names) - {node.name}) | {new_name}
    routing = merged.routing_config.model_dump()
    _check_routing({k: new_name if v == node.name else v for k, v in routing.items()}, known)
    if new_name != node.name:
        await _rename_references(session, node.name, new_name)
    for field, value in merged.model_dump(exclude={"routing_config"}).items():
        setattr(node, field, value)
    node.routing_config = {k: new_name if v == node.name else v for k, v in routing.items()}
    node.name = new_name
    await session.flush()
    return node


async def replace(session: AsyncSession, node_id: int, data: NodeCreate) -> TaskNode:
    """PUT a node: every field takes the sent value or its default."""
    return await update(session, node_id, NodeUpdate(**data.model_dump()))


def _fields_of(node: TaskNode) -> dict[str, Any]:
    return {field: getattr(node, field) for field in NodeFields.model_fields}


async def _rename_references(session: AsyncSession, old: str, new: str) -> None:
    for other in await session.scalars(select(TaskNode)):
        routing = dict(other.routing_config)
        if any(routing.get(key) == old for key in ROUTES):
            other.routing_config = {k: new if v == old else v for k, v in routing.items()}


async def delete(session: AsyncSession, node_id: int) -> None:
    """Delete a node that no task uses and no other node routes to."""
    node = await get(session, node_id)
    used = await session.scalar(
        select(func.count()).select_from(Task).where(Task.node_id == node_id)
    )
    if used:
        raise Conflict(f"node {node.name!r} is assigned to {used} task(s); reassign them first")
    for other in await session.scalars(select(TaskNode).where(TaskNode.id != node_id)):
        if any(other.routing_config.get(key) == node.name for key in ROUTES):
            raise Conflict(f"node {other.name!r} routes to {node.name!r}; change its routing first")
    await session.delete(node)
    await session.flush()
