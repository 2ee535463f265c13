"""Container restarts, status and logs through the Docker Engine API. No Docker engine runs
here, so the Engine is `tests/fake_docker.py` on a unix socket, driven by the real `docker`
SDK; its container is a real process (a fake Ollama host)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.live_server import LiveServer, live_server
from tests.ops_helpers import FakeDocker, fake_docker

pytestmark = [pytest.mark.filesystem, pytest.mark.slow]


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeDocker]:
    with fake_docker(tmp_path_factory.mktemp("docker")) as engine:
        yield engine


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, docker: FakeDocker) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("container-hub") / "home"
    with live_server(
        home,
        f"sqlite:///{home.parent / 'hub.db'}",
        ollama_urls=docker.url,
        docker_socket=str(docker.socket),
        ollama_container=docker.name,
        default_model="fast",
    ) as server:
        yield server


@pytest.fixture
def api(hub: LiveServer) -> Iterator[httpx.Client]:
    with hub.client(60) as client:
        yield client


def test_status_reports_the_container_and_a_real_generation(api: httpx.Client) -> None:
    status = api.get("/ollama/status").json()
    assert status["container_status"] == "running"
    assert status["service_status"] == "healthy"
    assert status["restart_methods"] == ["container"]  # no supervisor, no SSH host
    (host,) = status["hosts"]
    assert host["managed"]
    assert host["probe"]["ok"]
    assert host["probe"]["model"] == "fast"  # the loaded one (fake /api/ps)
    assert host["probe"]["duration_ms"] > 0


def test_container_restart_brings_the_server_back(api: httpx.Client, docker: FakeDocker) -> None:
    before = docker.stats()
    response = api.post("/ollama/restart/container")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"]
    assert body["method"] == "container"
    assert body["duration_seconds"] > 0
    assert "generated a token" in body["message"]
    after = docker.stats()
    assert after["restarts"] == before["restarts"] + 1
    assert after["pid"] != before["pid"]
    assert api.get("/ollama/status").json()["last_restart"]["method"] == "container"


def test_auto_restart_uses_the_configured_order(api: httpx.Client) -> None:
    body = api.post("/ollama/restart", json={"reason": "test"}).json()
    assert [a["method"] for a in body["attempts"]] == ["container"]
    assert body["success"]


def test_bad_restart_requests_are_refused(api: httpx.Client, docker: FakeDocker) -> None:
    before = docker.stats()["restarts"]
    for extra in ({"host": "evil.example"}, {"cmd": "rm -rf /"}, {"container": "other"}):
        refused = api.post("/ollama/restart/container", json=extra)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "validation_error"
    unconfigured = api.post("/ollama/restart/ssh")
    assert unconfigured.status_code == 409
    assert unconfigured.json()["error"] == "restart_not_configured"
    assert "WFHUB_SSH_HOST" in unconfigured.json()["detail"]
    assert docker.stats()["restarts"] == before  # nothing was restarted


def test_container_logs_are_listed_and_tailed(api: httpx.Client, docker: FakeDocker) -> None:
    services = {s["name"]: s for s in api.get("/logs").json()["services"]}
    assert services[f"container:{docker.name}"]["state"] == "running"
    assert services["main-api"]["state"] == "running"
    lines = api.get(f"/logs/container:{docker.name}", params={"tail": 1}).json()["lines"]
    assert [line["message"] for line in lines] == [f"hello from {docker.name}"]
    assert lines[0]["ts"].startswith("20")
    missing = api.get("/logs/container:nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


async def test_container_log_stream_follows_a_restart(hub: LiveServer, docker: FakeDocker) -> None:
    url = hub.url.replace("http://", "ws://") + f"/logs/container:{docker.name}/stream?tail=0"
    headers = {"Authorization": f"Bearer {hub.token}"}
    async with (
        connect(url, additional_headers=headers) as ws,
        httpx.AsyncClient(base_url=hub.url, headers=headers, timeout=60) as client,
    ):
        restart = asyncio.create_task(client.post("/ollama/restart/container"))
        line = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert line["message"] == f"hello from {docker.name}"
        assert (await restart).status_code == 200
    with pytest.raises(InvalidStatus) as missing:
        async with connect(url.replace(docker.name, "nope"), additional_headers=headers):
            pass
    assert missing.value.response.status_code == 404
