from __future__ import annotations

import httpx
import pytest


async def test_create_read_update_replace_delete(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/projects", json={"name": "My App", "description": "d", "environment": "staging"}
    )
    assert created.status_code == 201
    project = created.json()
    assert project["workspace_path"] == "my-app"
    assert project["environment"] == "staging"

    fetched = await client.get(f"/projects/{project['id']}")
    assert fetched.json() == project

    patched = await client.patch(f"/projects/{project['id']}", json={"description": "new"})
    assert patched.json()["description"] == "new"
    assert patched.json()["name"] == "My App"

    replaced = await client.put(f"/projects/{project['id']}", json={"name": "Renamed"})
    body = replaced.json()
    assert (body["name"], body["description"], body["environment"]) == ("Renamed", "", "local")
    assert body["workspace_path"] == "my-app"  # PUT without a path keeps the folder

    assert (await client.delete(f"/projects/{project['id']}")).status_code == 204
    gone = await client.get(f"/projects/{project['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"


async def test_workspace_slug_is_made_unique(client: httpx.AsyncClient) -> None:
    first = (await client.post("/projects", json={"name": "Web App"})).json()
    second = (await client.post("/projects", json={"name": "web-app"})).json()
    assert first["workspace_path"] == "web-app"
    assert second["workspace_path"] == "web-app-2"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "blank"),
        ({"name": "a\nb"}, "single line"),
        ({"name": "x", "workspace_path": "/etc"}, "relative"),
        ({"name": "x", "workspace_path": "a/../../b"}, "'..'"),
        ({"name": "x", "workspace_path": "a\\b"}, "backslash"),
        ({"name": "x", "environment": "moon"}, "environment"),
        ({"name": "x", "unknown": 1}, "unknown"),
        ({"name": "x", "description": "nul\x00byte"}, "control"),
        ({"name": 5}, "name"),
    ],
)
async def test_bad_project_input_is_422_and_stores_nothing(
    client: httpx.AsyncClient, body: dict[str, object], fragment: str
) -> None:
    response = await client.post("/projects", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "validation_error"
    assert fragment.lower() in error["detail"].lower()
    assert (await client.get("/projects")).json()["total"] == 0


async def test_duplicate_name_or_workspace_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/projects", json={"name": "One", "workspace_path": "shared"})
    dup_name = await client.post("/projects", json={"name": "One"})
    dup_path = await client.post("/projects", json={"name": "Two", "workspace_path": "shared"})
    assert (dup_name.status_code, dup_path.status_code) == (409, 409)
    assert "already exists" in dup_path.json()["detail"]
    two = (await client.post("/projects", json={"name": "Two"})).json()
    rename = await client.patch(f"/projects/{two['id']}", json={"name": "One"})
    assert rename.status_code == 409


async def test_list_is_paginated_and_searchable(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post(
            "/projects", json={"name": f"proj {i}", "description": "alpha" if i % 2 else ""}
        )
    page = (await client.get("/projects", params={"limit": 2, "offset": 1})).json()
    assert [p["name"] for p in page["items"]] == ["proj 1", "proj 2"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    found = (await client.get("/projects", params={"q": "ALPHA"})).json()
    assert {p["name"] for p in found["items"]} == {"proj 1", "proj 3"}
    # LIKE wildcards are literal text, not patterns
    assert (await client.get("/projects", params={"q": "%"})).json()["total"] == 0


async def test_delete_with_tasks_needs_cascade(
    client: httpx.AsyncClient, project: dict[str, object]
) -> None:
    pid = project["id"]
    await client.post(f"/projects/{pid}/tasks", json={"title": "t"})
    refused = await client.delete(f"/projects/{pid}")
    assert refused.status_code == 409
    assert refused.json()["error"] == "has_children"
    assert (await client.get(f"/projects/{pid}")).status_code == 200
    assert (await client.delete(f"/projects/{pid}", params={"cascade": "true"})).status_code == 204
    assert (await client.get(f"/projects/{pid}/tasks")).status_code == 404


@pytest.mark.parametrize("path", ["/projects/0", "/projects/abc", f"/projects/{2**40}"])
async def test_out_of_range_ids_are_422_not_500(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 422
