"""`wfhub serve` with no Ollama host: it runs the embedded model server as a supervised
child, and the unchanged `ollama`, `openai` and ChatOllama clients work through the gateway."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest
from langchain_ollama import ChatOllama

from tests.conftest import free_port
from tests.live_server import LiveServer, live_server
from tests.llm_helpers import link_test_model
from wfhub.llm.catalog import TEST_MODEL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("embedded") / "home"
    link_test_model(home)
    llm_port = str(free_port())
    with live_server(
        home, f"sqlite:///{home.parent / 'hub.db'}", llm_port=llm_port, default_model=TEST_MODEL
    ) as server:
        wait_for_model_server(server)
        yield server


def auth(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def wait_for_model_server(server: LiveServer) -> None:
    for _ in range(300):
        checks = httpx.get(f"{server.url}/health/full", headers=auth(server)).json()["checks"]
        if checks["model_server"]["status"] == "ok":
            return
        time.sleep(0.2)
    raise AssertionError(f"the embedded model server never came up: {checks['model_server']}")


def model_server_pid(server: LiveServer) -> int:
    """The pid of the server's model-server child, once it has been started."""
    pattern = f"wfhub llm serve --port {server.env['WFHUB_LLM_PORT']}"
    for _ in range(100):
        found = subprocess.run(
            ["pgrep", "-f", pattern], check=False, capture_output=True, text=True
        )
        if found.stdout.strip():
            return int(found.stdout.split()[0])
        time.sleep(0.1)
    raise AssertionError("wfhub serve started no model server")


def test_clients_work_through_the_gateway(hub: LiveServer) -> None:
    with ollama.Client(host=f"{hub.url}/ollama", headers=auth(hub)) as client:
        assert [m.model for m in client.list().models] == [TEST_MODEL]
        reply = client.chat(
            model=TEST_MODEL,
            messages=[{"role": "user", "content": "Say hi."}],
            options={"num_predict": 5},
        )
        assert reply.eval_count
        with pytest.raises(ollama.ResponseError) as unknown:
            client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
        assert unknown.value.status_code == 404  # the embedded server's answer, passed through
    with openai.OpenAI(base_url=f"{hub.url}/v1", api_key=hub.token) as api:
        answer = api.chat.completions.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=5
        )
        assert answer.choices[0].message.content
    chat = ChatOllama(
        model=TEST_MODEL,
        base_url=f"{hub.url}/ollama",
        num_predict=5,
        client_kwargs={"headers": {**auth(hub), "X-Wfhub-Run": "31337"}},
    )
    try:
        assert chat.invoke("Say hi.").content
    finally:
        chat._client.close()  # type: ignore[no-untyped-call]
    with httpx.Client(base_url=hub.url, headers=auth(hub)) as api_client:
        for _ in range(50):
            rows = api_client.get("/llm/requests", params={"run_id": 31337}).json()["items"]
            if rows:
                break
            time.sleep(0.1)
        (row,) = rows
        assert row["backend"] == "embedded"
        assert row["model"] == TEST_MODEL
        assert row["completion_tokens"]
        assert row["prompt_tokens"]


def test_a_killed_model_server_is_restarted(hub: LiveServer) -> None:
    first = model_server_pid(hub)
    os.kill(first, signal.SIGKILL)
    time.sleep(0.5)
    wait_for_model_server(hub)
    assert model_server_pid(hub) != first


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_the_model_server_goes_with_wfhub_serve(
    stop: signal.Signals, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("orphan") / "home"
    with live_server(home, f"sqlite:///{home.parent / 'hub.db'}") as server:
        child = model_server_pid(server)
        os.kill(_serve_pid(child), stop)
        for _ in range(100):
            if not Path(f"/proc/{child}").exists():
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the model server outlived wfhub serve after {stop.name}")


def _serve_pid(child: int) -> int:
    """The `wfhub serve` process that started `child`."""
    status = Path(f"/proc/{child}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
