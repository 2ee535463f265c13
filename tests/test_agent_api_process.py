"""`wfhub agent-api` as its own process beside `wfhub serve`, on one database: runs started
through it execute there with their model calls in the hub's ledger; neither process takes
the other's live runs; a cancel reaches the process that holds the run; and when the agent
API is killed mid-run, the hub adopts the run and resumes it from its checkpoint."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.live_server import LiveServer, listening_pid, live_server, wfhub_process
from tests.ops_helpers import wait_until
from tests.scripted_runs import Json, call, events, project_with_bug, script, seen

pytestmark = [pytest.mark.filesystem, pytest.mark.slow]
LEASE_SECONDS = "3"  # renewal and adoption every second


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, model_url: str) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("two-processes") / "home"
    database = f"sqlite:///{home.parent / 'hub.db'}"
    settings = {"ollama_urls": model_url, "run_lease_seconds": LEASE_SECONDS}
    with live_server(home, database, **settings) as server:
        yield server


@contextmanager
def agent_api(hub: LiveServer, log: Path) -> Iterator[LiveServer]:
    """`wfhub agent-api` on a free port, sharing the hub's data dir and database."""
    port = free_port()
    env = {**hub.env, "WFHUB_AGENT_API_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    with wfhub_process(["agent-api"], env, log, f"{url}/health"):
        yield LiveServer(url=url, token=hub.token, env=env)


def owner_pid(run: Json) -> int:
    host, pid, _ = run["owner"].split(":")
    assert host == socket.gethostname()
    return int(pid)


def start_through(agent: LiveServer, hub: LiveServer, name: str) -> Json:
    """A project with the bug (made on the hub) and a run of it started on the agent API."""
    with hub.client() as api:
        pid, _ = project_with_bug(api, name)
        workspace = api.get(f"/projects/{pid}").json()["workspace_path"]
    with agent.client() as client:
        body = {"task": "Fix add in calc.py", "workspace": workspace, "model": name}
        response = client.post("/api/agent/run", json=body)
    assert response.status_code == 202, response.text
    started: Json = response.json()
    return started


def test_a_run_started_through_the_agent_api_executes_there(
    hub: LiveServer, model_url: str, tmp_path: Path
) -> None:
    model = "through-agent-api"
    script(
        model_url,
        model,
        {"content": "Plan: fix the operator."},
        call("edit_file", path="calc.py", search="a - b", replace="a + b"),
        {"content": "Fixed add."},
    )
    with agent_api(hub, tmp_path / "agent-api.log") as agent:
        assert httpx.get(f"{agent.url}/api/config").json()["error"] == "unauthorized"
        spoofed = httpx.get(f"{agent.url}/health", headers={"Host": "evil.example"})
        assert spoofed.json()["error"] == "host_not_allowed"
        started = start_through(agent, hub, model)
        run_id = started["run_id"]
        with agent.client() as client:
            wait_until(
                lambda: client.get(f"/api/runs/{run_id}").json()["status"] == "succeeded",
                30,
                "the run to succeed",
            )
            # The calls went through the hub's gateway; its ledger writes in batches.
            wait_until(
                lambda: client.get(f"/api/runs/{run_id}").json()["llm_requests"] == 3,
                10,
                "the ledger rows",
            )
            summary = client.get(f"/api/runs/{run_id}").json()
        assert owner_pid(summary) == listening_pid(agent.env["WFHUB_AGENT_API_PORT"])
        assert summary["changed_files"] == ["calc.py"]
        from_agent = events(agent, run_id, route="/api/runs")
        assert from_agent == events(hub, run_id)  # one log, whichever process you ask
        assert from_agent[-1]["data"]["status"] == "succeeded"
    with hub.client() as api:
        ledger = api.get("/llm/requests", params={"run_id": run_id}).json()["items"]
        services = {s["name"] for s in api.get("/logs").json()["services"]}
        lines = api.get("/logs/agent-api").json()["lines"]
    assert {row["model"] for row in ledger} == {model}
    assert len(ledger) == 3
    assert "agent-api" in services  # its own log, beside the hub's
    assert any("/api/agent/run" in line["message"] for line in lines)


def test_neither_process_takes_the_others_live_run_and_cancel_reaches_it(
    hub: LiveServer, model_url: str, tmp_path: Path
) -> None:
    model = "held-by-hub"
    script(model_url, model, {"content": "plan"}, {"hang": True})
    with hub.client() as api:
        _, task_id = project_with_bug(api, model)
        run = api.post(f"/tasks/{task_id}/runs", json={"model": model}).json()
    wait_until(lambda: len(seen(model_url, model)) == 2, 20, "the hanging model call")
    hub_pid = listening_pid(hub.env["WFHUB_PORT"])
    with agent_api(hub, tmp_path / "agent-api.log") as agent, agent.client() as client:
        for _ in range(3):  # over three leases the agent API looks for orphans nine times
            summary = client.get(f"/api/runs/{run['id']}").json()
            assert summary["status"] == "running"
            assert owner_pid(summary) == hub_pid
            time.sleep(float(LEASE_SECONDS))
        cancelled = client.post(f"/api/runs/{run['id']}/cancel")  # the hub holds it
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
    assert events(hub, run["id"])[-1]["data"] == {
        "status": "cancelled",
        "error": "cancelled by a user",  # the hub's runner stopped it, not a bare row update
    }
    assert len(seen(model_url, model)) == 2  # no second process called the model


def test_a_killed_agent_api_leaves_its_run_to_the_hub(
    hub: LiveServer, model_url: str, tmp_path: Path
) -> None:
    model = "adopted"
    script(
        model_url,
        model,
        {"content": "plan"},
        call("edit_file", path="calc.py", search="a - b", replace="a + b"),
        {"hang": True},
        {"content": "Fixed by the hub after the agent API died."},
    )
    with agent_api(hub, tmp_path / "agent-api.log") as agent:
        run_id = start_through(agent, hub, model)["run_id"]
        wait_until(lambda: len(seen(model_url, model)) == 3, 20, "the hanging model call")
        os.kill(listening_pid(agent.env["WFHUB_AGENT_API_PORT"]), signal.SIGKILL)
    with hub.client() as api:
        wait_until(
            lambda: api.get(f"/runs/{run_id}").json()["status"] == "succeeded", 30, "adoption"
        )
        summary = api.get(f"/runs/{run_id}").json()
    assert owner_pid(summary) == listening_pid(hub.env["WFHUB_PORT"])
    assert summary["summary"] == "Fixed by the hub after the agent API died."
    assert summary["changed_files"] == ["calc.py"]
    stream = events(hub, run_id)
    resumed = [e for e in stream if e["type"] == "status" and e["data"].get("resumed")]
    assert len(resumed) == 1
    assert [e["type"] for e in stream].count("tool_result") == 1  # the edit was not redone
