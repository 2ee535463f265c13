"""Run routes in-process, on both databases: refusals and validation, nothing stored."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from wfhub.sandbox.policy import Sandbox, SandboxMode

Json = dict[str, object]


async def test_runs_refuse_to_start_without_a_sandbox(
    app: FastAPI, client: httpx.AsyncClient, project: Json
) -> None:
    task = (await client.post(f"/projects/{project['id']}/tasks", json={"title": "t"})).json()
    app.state.sandbox = Sandbox(SandboxMode.unavailable)  # as on a machine without bubblewrap
    refused = await client.post(f"/tasks/{task['id']}/runs", json={})
    assert refused.status_code == 503
    assert refused.json()["error"] == "sandbox_unavailable"
    assert "bubblewrap" in refused.json()["detail"]
    assert (await client.get(f"/tasks/{task['id']}/runs")).json() == []  # nothing stored


async def test_aider_runs_need_the_engine_installed(
    client: httpx.AsyncClient, project: Json
) -> None:
    task = (await client.post(f"/projects/{project['id']}/tasks", json={"title": "t"})).json()
    refused = await client.post(f"/tasks/{task['id']}/runs", json={"engine": "aider"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "engine_not_installed"
    assert "wfhub engines install aider" in refused.json()["detail"]
    assert (await client.get(f"/tasks/{task['id']}/runs")).json() == []
    body = {"task": "x", "workspace": project["workspace_path"], "engine": "aider"}
    agent = await client.post("/agent/api/agent/run", json=body)
    assert agent.status_code == 409
    assert agent.json()["error"] == "engine_not_installed"
    tasks = (await client.get(f"/projects/{project['id']}/tasks")).json()
    assert [t["id"] for t in tasks["items"]] == [task["id"]]  # the agent API stored no task


async def test_bad_run_requests(client: httpx.AsyncClient, project: Json) -> None:
    task = (await client.post(f"/projects/{project['id']}/tasks", json={"title": "t"})).json()
    path = f"/tasks/{task['id']}/runs"
    for body in (
        {"engine": "other"},
        {"model": "has space"},
        {"options": {"max_iterations": 0}},
        {"options": {"timeout_seconds": -1}},
        {"options": {"unknown": 1}},
        {"options": {"files": ["../outside.py"]}},
        {"options": {"files": ["/etc/passwd"]}},
        {"options": {"files": ["./"]}},
        {"options": {"files": ["a"] * 51}},
        {"node_id": 0},
    ):
        response = await client.post(path, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"] == "validation_error"
    assert (await client.get(path)).json() == []
    assert (await client.get("/tasks/999999/runs")).status_code == 404
    assert (await client.post("/runs/999999/cancel")).status_code == 404
    assert (await client.get("/runs/0")).status_code == 422


async def test_agent_api_run_ids_are_bounded(client: httpx.AsyncClient) -> None:
    too_big = await client.get("/agent/api/runs/84561898731999")  # was a 500 on PostgreSQL
    assert too_big.status_code == 422
    assert (await client.get("/agent/api/runs/999999")).status_code == 404
