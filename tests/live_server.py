"""Run the real `wfhub serve` in a subprocess on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import free_port


@dataclass(frozen=True)
class LiveServer:
    url: str
    token: str
    env: dict[str, str]

    def client(self, timeout: float = 60) -> httpx.Client:
        """An httpx client for this server, with its token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `wfhub ARGS` against this server, as a user would."""
        return run_wfhub(self.env, *args)


def run_wfhub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `wfhub` command in a subprocess with `env`; never raises on failure."""
    return subprocess.run(
        [sys.executable, "-m", "wfhub", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stop(process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `seconds`."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def listening_pid(port: str | int) -> int:
    """The pid of the process listening on a loopback TCP port."""
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split("pid=")[1].split(",")[0])


def server_env(home: Path, database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFHUB_")}
    env.update(
        WFHUB_HOME=str(home),
        DATABASE_URL=database_url,
        WFHUB_PORT=str(port),
        WFHUB_LLM_PORT=str(free_port()),  # never the default 11435 a real server may hold
        COLUMNS="200",
        NO_COLOR="1",
    )
    return env


@contextmanager
def wfhub_process(
    args: list[str], env: dict[str, str], log_path: Path, ready_url: str, seconds: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """`wfhub ARGS` in a subprocess, yielded once `ready_url` answers 200; stopped after."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wfhub", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"wfhub {' '.join(args)} exited: {log_path.read_text()}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{ready_url} did not answer within {seconds:g} s")
            time.sleep(0.1)
        yield process
    finally:
        stop(process, 20)


@contextmanager
def live_server(home: Path, database_url: str, **settings: str) -> Iterator[LiveServer]:
    """`wfhub serve` on a free port; `settings` become `WFHUB_<NAME>` variables."""
    port = free_port()
    env = server_env(home, database_url, port)
    env.update({f"WFHUB_{k.upper()}": v for k, v in settings.items()})
    url = f"http://127.0.0.1:{port}"
    with wfhub_process(["serve"], env, home.parent / f"serve-{port}.log", f"{url}/health"):
        token = (home / "token").read_text().strip()
        yield LiveServer(url=url, token=token, env=env)


async def websocket_refusal(
    server: LiveServer, path: str, host: str | None = None, **headers: str
) -> tuple[int, Any]:
    """The handshake's status and JSON body; `host` is sent as the Host header."""
    url = server.url.replace("http://", "ws://") + path
    address = urlsplit(url)
    if host is not None:
        url = url.replace(f"{address.hostname}:", f"{host}:", 1)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url, additional_headers=headers, host=address.hostname, port=address.port
        ):
            pass
    response = refused.value.response
    body = json.loads(response.body) if response.body else None
    return response.status_code, body
