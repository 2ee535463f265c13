from __future__ import annotations

from typing import Any

import httpx
import pytest

Json = dict[str, Any]


async def nodes_by_name(client: httpx.AsyncClient) -> dict[str, Json]:
    return {n["name"]: n for n in (await client.get("/nodes")).json()}


async def test_default_nodes_are_seeded_with_routing(client: httpx.AsyncClient) -> None:
    nodes = await nodes_by_name(client)
    assert set(nodes) == {"pm", "dev", "qa", "security", "documentation"}
    assert nodes["pm"]["routing_config"]["on_pass"] == "dev"
    assert nodes["dev"]["routing_config"]["on_pass"] == "qa"
    assert nodes["qa"]["routing_config"] == {"on_pass": "security", "on_fail": "dev"}
    assert all(n["node_type"] == "agent" and len(n["agent_prompt"]) > 50 for n in nodes.values())


async def test_create_update_delete(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/nodes",
        json={
            "name": "lint",
            "node_type": "tool",
            "command": "ruff check .",
            "routing_config": {"on_pass": "qa", "on_fail": "dev"},
            "pre_hooks": ["git status"],
        },
    )
    assert created.status_code == 201, created.text
    node = created.json()
    patched = await client.patch(
        f"/nodes/{node['id']}", json={"max_iterations": 3, "model": "qwen"}
    )
    assert (patched.json()["max_iterations"], patched.json()["model"]) == (3, "qwen")
    assert patched.json()["command"] == "ruff check ."
    assert (await client.delete(f"/nodes/{node['id']}")).status_code == 204
    assert (await client.get(f"/nodes/{node['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "t", "node_type": "tool"}, "needs a non-empty command"),
        ({"name": "c", "node_type": "condition"}, "needs a non-empty condition"),
        ({"name": "Bad Name", "node_type": "agent", "agent_prompt": "p"}, "name"),
        ({"name": "x", "node_type": "robot", "agent_prompt": "p"}, "node_type"),
        (
            {"name": "x", "node_type": "agent", "agent_prompt": "p", "max_iterations": 0},
            "max_iterations",
        ),
    ],
)
async def test_invalid_nodes(client: httpx.AsyncClient, body: Json, fragment: str) -> None:
    response = await client.post("/nodes", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


async def test_routing_must_name_existing_nodes(client: httpx.AsyncClient) -> None:
    def agent(name: str, routing: dict[str, str]) -> Json:
        return {"name": name, "node_type": "agent", "agent_prompt": "p", "routing_config": routing}

    response = await client.post("/nodes", json=agent("x", {"on_pass": "ghost"}))
    assert response.status_code == 422
    assert "ghost" in response.json()["detail"]
    self_loop = await client.post("/nodes", json=agent("loop", {"on_fail": "loop"}))
    assert self_loop.status_code == 201


async def test_patch_that_breaks_the_node_is_refused(client: httpx.AsyncClient) -> None:
    qa = (await nodes_by_name(client))["qa"]
    response = await client.patch(f"/nodes/{qa['id']}", json={"node_type": "tool"})
    assert response.status_code == 422
    assert (await client.get(f"/nodes/{qa['id']}")).json()["node_type"] == "agent"


async def test_rename_rewrites_routing_references(client: httpx.AsyncClient) -> None:
    dev = (await nodes_by_name(client))["dev"]
    renamed = await client.patch(f"/nodes/{dev['id']}", json={"name": "developer"})
    assert renamed.status_code == 200
    nodes = await nodes_by_name(client)
    assert nodes["pm"]["routing_config"]["on_pass"] == "developer"
    assert nodes["qa"]["routing_config"]["on_fail"] == "developer"
    clash = await client.patch(f"/nodes/{dev['id']}", json={"name": "qa"})
    assert clash.status_code == 409


async def test_delete_refused_while_used(client: httpx.AsyncClient, project: Json) -> None:
    nodes = await nodes_by_name(client)
    routed_to = await client.delete(f"/nodes/{nodes['security']['id']}")
    assert routed_to.status_code == 409
    assert "routes to" in routed_to.json()["detail"]
    pm = nodes["pm"]
    await client.post(f"/tasks/{project['id']}/tasks", json={"title": "t", "node_id": pm["id"]})
    used = await client.delete(f"/nodes/{pm['id']}")
    assert used.status_code == 409
    assert "assigned to 1 task" in used.json()["detail"]
