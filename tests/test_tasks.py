from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import StatementCounter

Json = dict[str, Any]


async def make(client: httpx.AsyncClient, pid: object, title: str, **fields: object) -> Json:
    response = await client.post(f"/tasks/{pid}/tasks", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def test_subtasks_get_depth_and_positions(client: httpx.AsyncClient, project: Json) -> None:
    root = await make(client, project["id"], "root")
    a = (await client.post(f"/tasks/{root['id']}/subtasks", json={"title": "a"})).json()
    b = (await client.post(f"/tasks/{root['id']}/subtasks", json={"title": "b"})).json()
    leaf = (await client.post(f"/tasks/{a['id']}/subtasks", json={"title": "leaf"})).json()
    assert (a["depth"], b["depth"], leaf["depth"]) == (1, 1, 2)
    assert (a["position"], b["position"]) == (0, 1)
    assert a["project_id"] == project["id"]
    subtasks = (await client.get(f"/tasks/{root['id']}/subtasks")).json()
    assert [t["title"] for t in subtasks["items"]] == ["a", "b"]


async def test_both_list_paths_and_tree(client: httpx.AsyncClient, project: Json) -> None:
    pid = project["id"]
    r1 = await make(client, pid, "r1")
    r2 = await make(client, pid, "r2")
    c1 = await make(client, pid, "c1", parent_id=r1["id"])
    await make(client, pid, "g1", parent_id=c1["id"])
    await make(client, pid, "c2", parent_id=r2["id"])
    flat = (await client.get(f"/projects/{pid}/tasks")).json()
    assert flat == (await client.get(f"/tasks/{pid}/tasks")).json()
    assert flat["total"] == 5
    tree = (await client.get(f"/tasks/{pid}/tasks", params={"tree": "true"})).json()
    assert tree["total"] == 2
    shape = [
        (r["title"], [(c["title"], [g["title"] for g in c["children"]]) for c in r["children"]])
        for r in tree["items"]
    ]
    assert shape == [("r1", [("c1", ["g1"])]), ("r2", [("c2", [])])]
    # A subtree: roots are the children of the given parent.
    sub = (
        await client.get(f"/tasks/{pid}/tasks", params={"tree": "true", "parent": r1["id"]})
    ).json()
    assert [(t["title"], len(t["children"])) for t in sub["items"]] == [("c1", 1)]
    # Paging the tree pages roots, each with its whole subtree.
    second = (
        await client.get(f"/tasks/{pid}/tasks", params={"tree": "true", "limit": 1, "offset": 1})
    ).json()
    assert [t["title"] for t in second["items"]] == ["r2"]


async def test_filters(client: httpx.AsyncClient, project: Json) -> None:
    pid = project["id"]
    root = await make(client, pid, "Fix login bug", status="in_progress")
    await make(client, pid, "Write docs", description="mention LOGIN flow")
    await make(client, pid, "child", parent_id=root["id"])

    async def titles(**params: str | int) -> list[str]:
        body = (await client.get(f"/tasks/{pid}/tasks", params=params)).json()
        return sorted(t["title"] for t in body["items"])

    assert await titles(status="in_progress") == ["Fix login bug"]
    assert await titles(q="login") == ["Fix login bug", "Write docs"]
    assert await titles(parent="root") == ["Fix login bug", "Write docs"]
    assert await titles(parent=root["id"]) == ["child"]
    bad = await client.get(f"/tasks/{pid}/tasks", params={"parent": "-1"})
    assert bad.status_code == 422
    assert (await client.get(f"/tasks/{pid}/tasks", params={"status": "nope"})).status_code == 422


async def test_move_recomputes_subtree_depth(client: httpx.AsyncClient, project: Json) -> None:
    pid = project["id"]
    a = await make(client, pid, "a")
    b = await make(client, pid, "b")
    b1 = await make(client, pid, "b1", parent_id=b["id"])
    b11 = await make(client, pid, "b11", parent_id=b1["id"])
    moved = await client.patch(f"/tasks/{b['id']}", json={"parent_id": a["id"]})
    assert moved.status_code == 200
    assert (moved.json()["depth"], moved.json()["parent_id"]) == (1, a["id"])
    depths = {
        t["title"]: t["depth"] for t in (await client.get(f"/tasks/{pid}/tasks")).json()["items"]
    }
    assert depths == {"a": 0, "b": 1, "b1": 2, "b11": 3}
    # back to the top level
    top = await client.patch(f"/tasks/{b1['id']}", json={"parent_id": None})
    assert top.json()["depth"] == 0
    assert (await client.get(f"/tasks/{b11['id']}")).json()["depth"] == 1


async def test_cycles_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, project: Json
) -> None:
    pid = project["id"]
    a = await make(client, pid, "a")
    b = await make(client, pid, "b", parent_id=a["id"])
    c = await make(client, pid, "c", parent_id=b["id"])
    for target in (c["id"], b["id"], a["id"]):
        response = await client.patch(
            f"/tasks/{a['id']}", json={"parent_id": target, "title": "changed"}
        )
        assert response.status_code == 409
        assert response.json()["error"] == "task_cycle"
    after = (await client.get(f"/tasks/{a['id']}")).json()
    assert (after["title"], after["parent_id"], after["depth"]) == ("a", None, 0)


async def test_parent_must_exist_in_same_project(client: httpx.AsyncClient, project: Json) -> None:
    other = (await client.post("/projects", json={"name": "Other"})).json()
    foreign = await make(client, other["id"], "foreign")
    here = await make(client, project["id"], "here")
    for body in ({"title": "x", "parent_id": foreign["id"]}, {"title": "x", "parent_id": 999999}):
        response = await client.post(f"/tasks/{project['id']}/tasks", json=body)
        assert response.status_code == 422
    moved = await client.patch(f"/tasks/{here['id']}", json={"parent_id": foreign["id"]})
    assert moved.status_code == 422
    assert "another project" in moved.json()["detail"]
    assert (await client.post("/tasks/999999/tasks", json={"title": "x"})).status_code == 404
    assert (await client.post("/tasks/999999/subtasks", json={"title": "x"})).status_code == 404


async def test_depth_limit(client: httpx.AsyncClient, project: Json) -> None:
    parent = await make(client, project["id"], "level 0")
    for level in range(1, 33):
        parent = await make(client, project["id"], f"level {level}", parent_id=parent["id"])
    too_deep = await client.post(f"/tasks/{parent['id']}/subtasks", json={"title": "33"})
    assert too_deep.status_code == 422
    assert "32 levels" in too_deep.json()["detail"]


async def test_delete_needs_cascade_for_children(client: httpx.AsyncClient, project: Json) -> None:
    a = await make(client, project["id"], "a")
    b = await make(client, project["id"], "b", parent_id=a["id"])
    refused = await client.delete(f"/tasks/{a['id']}")
    assert (refused.status_code, refused.json()["error"]) == (409, "has_children")
    assert (await client.delete(f"/tasks/{a['id']}", params={"cascade": "true"})).status_code == 204
    assert (await client.get(f"/tasks/{b['id']}")).status_code == 404
    leaf = await make(client, project["id"], "leaf")
    assert (await client.delete(f"/tasks/{leaf['id']}")).status_code == 204


async def test_put_replaces_and_patch_ignores_unsent(
    client: httpx.AsyncClient, project: Json
) -> None:
    a = await make(client, project["id"], "a")
    b = await make(client, project["id"], "b", parent_id=a["id"], priority=5, description="keep")
    patched = (await client.patch(f"/tasks/{b['id']}", json={"status": "completed"})).json()
    assert (patched["priority"], patched["description"], patched["parent_id"]) == (
        5,
        "keep",
        a["id"],
    )
    replaced = (await client.put(f"/tasks/{b['id']}", json={"title": "B"})).json()
    assert (replaced["priority"], replaced["description"], replaced["parent_id"]) == (0, "", None)
    assert replaced["depth"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x", "priority": 2**40},
        {"title": "x", "priority": "high"},
        {"title": "x", "status": "done"},
        {"title": "x", "parent_id": 0},
        {"title": "x", "node_id": 123456},
        {"title": "x", "position": -1},
        [],
    ],
)
async def test_bad_task_input(client: httpx.AsyncClient, project: Json, body: object) -> None:
    response = await client.post(f"/tasks/{project['id']}/tasks", json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error", "detail"}
    assert (await client.get(f"/tasks/{project['id']}/tasks")).json()["total"] == 0


async def test_tree_query_count_is_constant(
    client: httpx.AsyncClient, project: Json, statements: StatementCounter
) -> None:
    pid = project["id"]

    async def grow(n: int) -> None:
        parent = None
        for i in range(n):
            task = await make(client, pid, f"t{i}", parent_id=parent)
            parent = task["id"] if i % 3 else None

    async def count_tree_queries() -> int:
        before = statements.count
        response = await client.get(f"/tasks/{pid}/tasks", params={"tree": "true", "limit": 1000})
        assert response.status_code == 200
        return statements.count - before

    await grow(6)
    small = await count_tree_queries()
    await grow(60)
    large = await count_tree_queries()
    assert small == large
    assert large == 4  # task version, count, page of roots, one recursive CTE
