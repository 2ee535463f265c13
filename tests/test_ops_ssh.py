"""SSH restarts against a real OpenSSH sshd on a loopback port: the shipped restart script
stops a model server that the shipped serve loop brings back; host keys are pinned; a wrong
client key fails clearly and the next method is tried."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, live_server
from tests.ops_helpers import RESTART_SCRIPT, FakeDocker, ServeLoop, Sshd, fake_docker, serve_loop

pytestmark = [pytest.mark.filesystem, pytest.mark.slow]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ssh")


@pytest.fixture(scope="module")
def sshd(folder: Path) -> Iterator[Sshd]:
    server = Sshd(folder)
    yield server
    server.close()


@pytest.fixture(scope="module")
def model(folder: Path) -> Iterator[ServeLoop]:
    with serve_loop(folder) as loop:
        yield loop


@pytest.fixture(scope="module")
def docker(folder: Path) -> Iterator[FakeDocker]:
    with fake_docker(folder) as engine:
        yield engine


@pytest.fixture(scope="module")
def hub(folder: Path, sshd: Sshd, model: ServeLoop, docker: FakeDocker) -> Iterator[LiveServer]:
    home = folder / "home"
    command = f"WFHUB_MODEL_PIDFILE={model.pidfile} sh {RESTART_SCRIPT}"
    with live_server(
        home,
        f"sqlite:///{folder / 'hub.db'}",
        ollama_urls=model.url,
        default_model="fast",
        ssh_host="127.0.0.1",
        ssh_port=str(sshd.port),
        ssh_user="root",
        ssh_restart_command=command,
        ssh_timeout_seconds="10",
        restart_methods="ssh,container",
        docker_socket=str(docker.socket),
        ollama_container=docker.name,
    ) as server:
        key = server.cli("ssh-key")
        assert key.returncode == 0, key.stderr
        assert key.stdout.startswith("ssh-ed25519 ")
        sshd.authorized_keys.write_text(key.stdout)
        yield server


@pytest.fixture
def api(hub: LiveServer) -> Iterator[httpx.Client]:
    with hub.client(60) as client:
        yield client


def test_the_key_pair_is_private(hub: LiveServer, folder: Path) -> None:
    private = folder / "home" / "ssh" / "id_ed25519"
    assert private.stat().st_mode & 0o777 == 0o600
    assert hub.cli("ssh-key").stdout == hub.cli("ssh-key").stdout  # made once, then reused


def test_ssh_restart_brings_the_server_back(
    api: httpx.Client, model: ServeLoop, folder: Path
) -> None:
    before = model.pid()
    response = api.post("/ollama/restart/ssh")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"]
    assert body["method"] == "ssh"
    assert "restart-model-server.sh" in body["message"]
    assert model.pid() != before  # the script stopped it, the loop started a new one
    assert httpx.get(f"{model.url}/api/tags").status_code == 200
    pinned = (folder / "home" / "ssh" / "known_hosts").read_text()
    assert pinned.startswith("[127.0.0.1]:")
    assert api.get("/ollama/status").json()["service_status"] == "healthy"


def test_a_wrong_key_fails_clearly_and_the_fallback_runs(
    api: httpx.Client, sshd: Sshd, model: ServeLoop, docker: FakeDocker, folder: Path
) -> None:
    good = sshd.authorized_keys.read_text()
    other = folder / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    sshd.authorized_keys.write_text(other.with_suffix(".pub").read_text())
    try:
        before, restarts = model.pid(), docker.stats()["restarts"]
        body = api.post("/ollama/restart").json()
        ssh, container = body["attempts"]
        assert ssh["method"] == "ssh"
        assert not ssh["success"]
        assert "refused wfhub's key" in ssh["message"]
        assert "wfhub ssh-key" in ssh["message"]
        assert container["method"] == "container"
        assert container["success"]
        assert body["success"]
        assert body["method"] == "container"
        assert docker.stats()["restarts"] == restarts + 1
        assert model.pid() == before  # the SSH script never ran
    finally:
        sshd.authorized_keys.write_text(good)


def test_a_changed_host_key_is_refused(api: httpx.Client, sshd: Sshd, model: ServeLoop) -> None:
    sshd.new_host_key()
    before = model.pid()
    response = api.post("/ollama/restart/ssh")
    assert response.status_code == 200
    body = response.json()
    assert not body["success"]
    assert body["method"] == "ssh"
    assert "host key" in body["message"]
    assert "changed" in body["message"]
    assert "known_hosts" in body["message"]
    assert model.pid() == before
