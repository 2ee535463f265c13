"""Real peers for the operations tests: sshd on a loopback port, a model server kept up by
deploy/model-host/serve-loop.sh, and the fake Docker Engine on a unix socket."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.live_server import stop

REPO = Path(__file__).resolve().parent.parent
SERVE_LOOP = REPO / "deploy" / "model-host" / "serve-loop.sh"
RESTART_SCRIPT = REPO / "deploy" / "model-host" / "restart-model-server.sh"


def wait_until(check: object, seconds: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if callable(check) and check():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {seconds:g} s")


def answers(url: str) -> bool:
    return httpx.get(f"{url}/api/tags", timeout=1).status_code == 200


@dataclass
class ServeLoop:
    url: str
    pidfile: Path

    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())


def fake_ollama(port: int) -> list[str]:
    return [sys.executable, "-m", "tests.fake_ollama", str(port)]


@contextmanager
def serve_loop(
    folder: Path,
    server: Callable[[int], list[str]] = fake_ollama,
    env: dict[str, str] | None = None,
) -> Iterator[ServeLoop]:
    """A model server (`server(port)`, the fake Ollama host by default), kept running by the
    shipped serve loop."""
    port = free_port()
    pidfile = folder / "model.pid"
    loop_env = {"PATH": "/usr/bin:/bin", **(env or {}), "WFHUB_MODEL_PIDFILE": str(pidfile)}
    with (folder / "serve-loop.log").open("wb") as log:
        loop = subprocess.Popen(
            ["sh", str(SERVE_LOOP), *server(port)],
            cwd=REPO,
            env=loop_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url), 120, "the serve loop's model server")
        yield ServeLoop(url, pidfile)
    finally:
        stop(loop)
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


@dataclass
class FakeDocker:
    socket: Path
    name: str
    url: str

    def stats(self) -> dict[str, int]:
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, base_url="http://docker") as client:
            body: dict[str, int] = client.get("/_stats").json()
            return body


@contextmanager
def fake_docker(
    folder: Path, name: str = "ollama", server: Callable[[int], list[str]] = fake_ollama
) -> Iterator[FakeDocker]:
    """The fake Engine with one container: a model server (`server(port)`, the fake Ollama
    host by default) that greets on each start."""
    socket = folder / "docker.sock"
    port = free_port()
    command = f"echo hello from {name}; exec {shlex.join(server(port))}"
    container = ["sh", "-c", command]
    with (folder / "docker.log").open("wb") as log:
        engine = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_docker", str(socket), name, "--", *container],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url), 120, "the fake container's model server")
        yield FakeDocker(socket, name, url)
    finally:
        stop(engine)


class Sshd:
    """OpenSSH's sshd on a loopback port, key logins only, into `authorized_keys`."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
            pytest.skip("openssh-server is not installed (make setup installs it as root)")
        self.folder = folder
        self.port = free_port()
        self.authorized_keys = folder / "authorized_keys"
        self.authorized_keys.touch(mode=0o600)
        self.process: subprocess.Popen[bytes] | None = None
        self.new_host_key()

    def new_host_key(self) -> None:
        """(Re)start sshd with a freshly generated host key."""
        key = self.folder / "host_ed25519"
        for path in (key, key.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        config = self.folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            f"StrictModes no\nUsePAM no\nPidFile {self.folder / 'sshd.pid'}\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        if self.process is not None:
            stop(self.process)
        with (self.folder / "sshd.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdout=log, stderr=log
            )
        wait_until(self._listening, what="sshd")

    def _listening(self) -> bool:
        import socket

        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            return conn.recv(4).startswith(b"SSH-")

    def close(self) -> None:
        if self.process is not None:
            stop(self.process)
