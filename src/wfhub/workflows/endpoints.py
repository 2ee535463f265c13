from __future__ import annotations

from fastapi import APIRouter, Response

from wfhub.db import SessionDep
from wfhub.errors import ERROR_RESPONSES
from wfhub.schemas import IdPath
from wfhub.security.auth import AuthDep
from wfhub.workflows import service
from wfhub.workflows.schemas import NodeCreate, NodeRead, NodeUpdate

router = APIRouter(
    prefix="/nodes", tags=["nodes"], dependencies=[AuthDep], responses=ERROR_RESPONSES
)


@router.get("", response_model=list[NodeRead])
async def list_nodes(session: SessionDep) -> list[NodeRead]:
    return [NodeRead.model_validate(n) for n in await service.list_all(session)]


@router.post("", response_model=NodeRead, status_code=201)
async def create_node(body: NodeCreate, session: SessionDep) -> NodeRead:
    return NodeRead.model_validate(await service.create(session, body))


@router.get("/{node_id}", response_model=NodeRead)
async def get_node(node_id: IdPath, session: SessionDep) -> NodeRead:
    return NodeRead.model_validate(await service.get(session, node_id))


@router.put("/{node_id}", response_model=NodeRead)
async def replace_node(node_id: IdPath, body: NodeCreate, session: SessionDep) -> NodeRead:
    return NodeRead.model_validate(await service.replace(session, node_id, body))


@router.patch("/{node_id}", response_model=NodeRead)
async def update_node(node_id: IdPath, body: NodeUpdate, session: SessionDep) -> NodeRead:
    """Change fields; renaming updates the routing of nodes that pointed at the old name."""
    return NodeRead.model_validate(await service.update(session, node_id, body))


@router.delete("/{node_id}", status_code=204)
async def delete_node(node_id: IdPath, session: SessionDep) -> Response:
    await service.delete(session, node_id)
    return Response(status_code=204)
