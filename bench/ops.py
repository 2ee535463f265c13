"""Operations speed: model-server restarts against their baselines, terminal echo vs a PTY.

Run: `python -m bench.ops [--rounds N]` (part of `make bench`; needs the 0.5B test model,
`wfhub llm install qwen2.5-coder:0.5b`, and sshd from `make setup`). Every restart is timed
until the server answers a 1-token generation again, so each pair measures the same thing:
- local: `POST /ollama/restart/local` on a `wfhub serve` with the embedded server, against a
  cold start of the same `wfhub llm serve` (spawn to first generated token);
- ssh: `POST /ollama/restart/ssh` (asyncssh into a real sshd on loopback, the shipped restart
  script, the serve loop starting a new embedded server), against running the same script by
  hand on the host and waiting for the generation;
- container: `POST /ollama/restart/container` through the fake Docker Engine, against the
  same Engine restart called directly with the `docker` SDK.
Terminal: round-trip time of one keystroke echoed through `/terminal/{id}` (WebSocket, PTY in
bubblewrap), against the same shell on a local PTY read directly. Medians over the rounds;
ratios are wfhub / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import httpx
from tests.conftest import free_port
from tests.live_server import LiveServer, live_server
from tests.llm_helpers import link_test_model
from tests.ops_helpers import RESTART_SCRIPT, Sshd, fake_docker, serve_loop
from websockets.asyncio.client import connect

from wfhub.llm.backends import Backend
from wfhub.llm.catalog import TEST_MODEL
from wfhub.ops.probe import generation_probe
from wfhub.ops.terminal import shell

KEYSTROKES = 200


def generates(url: str) -> bool:
    async def probe() -> bool:
        async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=2)) as client:
            result = await generation_probe(client, Backend("b", url, "ollama"), TEST_MODEL, 30)
            return result.ok

    return asyncio.run(probe())


def until_generates(url: str, started: float, seconds: float = 120) -> float:
    deadline = started + seconds
    while time.monotonic() < deadline:
        if generates(url):
            return time.monotonic() - started
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not generate within {seconds} s")


def embedded(home: Path) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return ["env", f"WFHUB_HOME={home}", sys.executable, "-m", "wfhub", "llm", "serve",
                "--port", str(port)]  # fmt: skip

    return command


def restart(server: LiveServer, method: str) -> float:
    headers = {"Authorization": f"Bearer {server.token}"}
    started = time.monotonic()
    body = httpx.post(f"{server.url}/ollama/restart/{method}", headers=headers, timeout=300).json()
    took = time.monotonic() - started
    assert body["success"], body
    return took


def cold_start(home: Path) -> float:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        embedded(home)(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return until_generates(f"http://127.0.0.1:{port}", started)
    finally:
        process.terminate()
        process.wait()


@contextmanager
def hub(folder: Path, **settings: str) -> Iterator[LiveServer]:
    home = folder / "hub"
    link_test_model(home)
    with live_server(
        home, f"sqlite:///{folder / 'hub.db'}", default_model=TEST_MODEL, **settings
    ) as server:
        yield server


def bench_local(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    models = folder.parent / "models-home"
    ours, base = [], []
    with hub(folder / "local", llm_port=str(free_port())) as server:
        until_generates(f"http://127.0.0.1:{server.env['WFHUB_LLM_PORT']}", time.monotonic())
        for _ in range(rounds):
            base.append(cold_start(models))
            ours.append(restart(server, "local"))
    return ours, base


def bench_ssh(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    models = folder.parent / "models-home"
    sshd = Sshd(folder)
    try:
        with serve_loop(folder, embedded(models)) as model:
            script = f"WFHUB_MODEL_PIDFILE={model.pidfile} sh {RESTART_SCRIPT}"
            with hub(
                folder / "ssh", ollama_urls=model.url, ssh_host="127.0.0.1",
                ssh_port=str(sshd.port), ssh_restart_command=script, restart_methods="ssh",
            ) as server:  # fmt: skip
                sshd.authorized_keys.write_text(server.cli("ssh-key").stdout)
                until_generates(model.url, time.monotonic())
                ours, base = [], []
                for _ in range(rounds):
                    started = time.monotonic()
                    subprocess.run(["sh", "-c", script], check=True, capture_output=True)
                    base.append(until_generates(model.url, started))
                    ours.append(restart(server, "ssh"))
    finally:
        sshd.close()
    return ours, base


def bench_container(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    models = folder.parent / "models-home"
    with (
        fake_docker(folder, server=embedded(models)) as engine,
        hub(
            folder / "container", ollama_urls=engine.url, docker_socket=str(engine.socket),
            restart_methods="container",
        ) as server,
    ):  # fmt: skip
        until_generates(engine.url, time.monotonic())
        client = docker.DockerClient(base_url=f"unix://{engine.socket}")
        ours, base = [], []
        for _ in range(rounds):
            started = time.monotonic()
            client.containers.get(engine.name).restart(timeout=10)
            base.append(until_generates(engine.url, started))
            ours.append(restart(server, "container"))
        client.close()
    return ours, base


async def echo_times_ws(server: LiveServer, project_id: int) -> list[float]:
    url = server.url.replace("http://", "ws://") + f"/terminal/{project_id}"
    headers = {"Authorization": f"Bearer {server.token}"}
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(b"stty -echoctl; PS1=; echo ready\n")
        while b"ready" not in await ws.recv():
            pass
        await asyncio.sleep(0.5)
        times = []
        for _ in range(KEYSTROKES):
            started = time.perf_counter()
            await ws.send(b"x")
            while b"x" not in await ws.recv():
                pass
            times.append(time.perf_counter() - started)
        return times


def echo_times_pty() -> list[float]:
    master, slave = os.openpty()
    process = subprocess.Popen(
        shell(), stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        env={"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "PS1": ""},
    )  # fmt: skip
    os.close(slave)
    try:
        os.write(master, b"echo ready\n")
        seen = b""
        while b"ready\r\n" not in seen:
            seen += os.read(master, 4096)
        time.sleep(0.5)
        with_timeouts = []
        for _ in range(KEYSTROKES):
            started = time.perf_counter()
            os.write(master, b"x")
            while b"x" not in os.read(master, 4096):
                pass
            with_timeouts.append(time.perf_counter() - started)
        return with_timeouts
    finally:
        process.kill()
        process.wait()
        os.close(master)


def bench_terminal(folder: Path) -> tuple[list[float], list[float]]:
    with live_server(folder / "term", f"sqlite:///{folder / 'term.db'}") as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        project = httpx.post(
            f"{server.url}/projects", json={"name": "bench", "workspace": "init"}, headers=headers
        ).json()
        ours = asyncio.run(echo_times_ws(server, project["id"]))
    return ours, echo_times_pty()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        link_test_model(folder / "models-home")
        print("| restart | wfhub (median s) | baseline (median s) | ratio |")
        print("|---|---:|---:|---:|")
        for name, run, baseline in (
            ("local", bench_local, "cold start of the server"),
            ("ssh", bench_ssh, "the restart script by hand"),
            ("container", bench_container, "Engine restart via the SDK"),
        ):
            part = folder / name
            part.mkdir()
            ours, base = run(part, args.rounds)
            mine, theirs = statistics.median(ours), statistics.median(base)
            print(f"| {name} | {mine:.2f} | {theirs:.2f} ({baseline}) | {mine / theirs:.2f} |")
        (folder / "terminal").mkdir()
        ours, base = bench_terminal(folder / "terminal")
        print("\n| keystroke echo | p50 ms | p95 ms |\n|---|---:|---:|")
        for label, times in (("wfhub terminal (WebSocket, bubblewrap)", ours), ("local PTY", base)):
            print(f"| {label} | {percentile(times, 0.5) * 1000:.2f} | "
                  f"{percentile(times, 0.95) * 1000:.2f} |")  # fmt: skip
        ratio = percentile(ours, 0.5) / percentile(base, 0.5)
        print(f"\np50 ratio terminal / local PTY: {ratio:.1f}")


if __name__ == "__main__":
    main()
