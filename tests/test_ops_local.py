"""The embedded model server under `wfhub serve`'s supervisor: crashes and hangs are noticed
and repaired, `/ollama/status` shows the outage and the recovery, and a requested restart is
joined by a second request while gateway requests wait for it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.live_server import LiveServer, live_server
from tests.llm_helpers import link_test_model
from tests.ops_helpers import wait_until
from wfhub.llm.catalog import TEST_MODEL

pytestmark = [pytest.mark.filesystem, pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("local-ops") / "home"
    link_test_model(home)
    with live_server(
        home,
        f"sqlite:///{home.parent / 'hub.db'}",
        llm_port=str(free_port()),
        default_model=TEST_MODEL,
        model_health_interval_seconds="1",
        model_probe_seconds="10",
    ) as server:
        yield server


@pytest.fixture
def api(hub: LiveServer) -> Iterator[httpx.Client]:
    with hub.client(120) as client:
        yield client


def managed(api: httpx.Client) -> dict[str, Any]:
    host: dict[str, Any] = next(
        h for h in api.get("/ollama/status").json()["hosts"] if h["managed"]
    )
    return host


def healthy_pid(api: httpx.Client, other_than: int | None = None) -> int:
    found: dict[str, int] = {}

    def check() -> bool:
        host = managed(api)
        pid = host["supervisor"]["pid"]
        if host["service_status"] == "healthy" and pid not in {None, other_than}:
            found["pid"] = pid
            return True
        return False

    wait_until(check, 90, "a healthy embedded model server")
    return found["pid"]


def test_status_probes_with_a_generation(api: httpx.Client) -> None:
    healthy_pid(api)
    status = api.get("/ollama/status").json()
    assert status["service_status"] == "healthy"
    assert status["container_status"] == "not_configured"
    assert status["restart_methods"] == ["local"]
    assert status["models_loaded"] == [TEST_MODEL]
    host = next(h for h in status["hosts"] if h["managed"])
    assert host["probe"]["model"] == TEST_MODEL
    assert host["supervisor"]["state"] == "running"


def test_kill_9_shows_outage_and_recovery(api: httpx.Client) -> None:
    first = healthy_pid(api)
    restarts = managed(api)["supervisor"]["restarts"]
    os.kill(first, signal.SIGKILL)
    outage = managed(api)
    assert outage["service_status"] in {"down", "unhealthy"}
    assert not outage["probe"]["ok"]
    second = healthy_pid(api, other_than=first)
    host = managed(api)
    assert host["supervisor"]["restarts"] == restarts + 1
    events = [(e["event"], e["detail"]) for e in host["supervisor"]["events"]]
    exit_at = events.index(("exited", "signal 9"))
    assert ("started", f"pid {second}") in events[exit_at:]


def test_a_hung_server_is_detected_and_restarted(api: httpx.Client) -> None:
    first = healthy_pid(api)
    os.kill(first, signal.SIGSTOP)  # still accepts connections (the kernel does), never answers
    try:
        healthy_pid(api, other_than=first)
    finally:
        if os.path.exists(f"/proc/{first}"):
            os.kill(first, signal.SIGKILL)
    events = [e["event"] for e in managed(api)["supervisor"]["events"]]
    assert "hung" in events


async def test_restart_is_joined_and_requests_wait(hub: LiveServer, api: httpx.Client) -> None:
    first = healthy_pid(api)
    headers = {"Authorization": f"Bearer {hub.token}"}
    chat = {
        "model": TEST_MODEL,
        "stream": False,
        "messages": [{"role": "user", "content": "Say hi."}],
        "options": {"num_predict": 3},
    }
    async with httpx.AsyncClient(base_url=hub.url, headers=headers, timeout=120) as client:
        first_restart = asyncio.create_task(client.post("/ollama/restart/local"))
        await asyncio.sleep(0.3)
        second_restart = asyncio.create_task(client.post("/ollama/restart"))
        started = time.monotonic()
        answer = await client.post("/ollama/api/chat", json=chat)
        waited = time.monotonic() - started
        one, two = (await first_restart).json(), (await second_restart).json()
    assert answer.status_code == 200, answer.text
    assert answer.json()["done"]
    assert one["success"]
    assert two["success"]
    assert not one["joined"]
    assert two["joined"]
    assert one["method"] == "local"
    assert two["duration_seconds"] == one["duration_seconds"]  # the same restart
    assert waited > 0.2  # the chat was held until the new server answered, not refused
    assert healthy_pid(api) != first


def test_model_server_output_is_in_its_log(api: httpx.Client) -> None:
    services = {s["name"]: s for s in api.get("/logs").json()["services"]}
    assert services["model-server"]["state"] == "running"
    assert services["model-server"]["pid"] == managed(api)["supervisor"]["pid"]
    lines = api.get("/logs/model-server", params={"tail": 1000}).json()["lines"]
    assert any(line["logger"] == "supervisor" and "started" in line["message"] for line in lines)
    assert any(line["logger"] == "model-server" for line in lines)
