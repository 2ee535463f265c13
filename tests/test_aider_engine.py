"""Runs with `engine: aider` against a real `wfhub serve`: Aider (its own virtualenv,
installed by `wfhub engines install aider`) edits through the gateway to the scripted
Ollama host, wfhub checks and commits; a failed check goes back to Aider; cancel kills it;
it makes no outside request and never holds the API token."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, live_server
from tests.ops_helpers import wait_until
from tests.scripted_runs import Json, events, project_with_bug, script, seen
from wfhub.config import Settings

pytestmark = [pytest.mark.filesystem, pytest.mark.slow]
ENGINES = Settings(_env_file=None).engines_dir  # where `make test` installed Aider
CHECK = "python3 -c 'import calc; assert calc.add(2, 3) == 5, calc.add(2, 3)'"


def edit(operator: str, chatter: str = "") -> Json:
    """A reply in Aider's `whole` edit format (its choice for a model it does not know):
    calc.py's new text with `operator` in add()."""
    block = f"calc.py\n```python\ndef add(a, b):\n    return a {operator} b\n```\n"
    return {"content": f"{chatter}\n\n{block}"}


class Canary:
    """A loopback listener that records every connection (and its first bytes)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.seen: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.seen.append(connection.recv(4096))
                except OSError:
                    self.seen.append(b"")


@contextmanager
def canary() -> Iterator[Canary]:
    """A loopback listener that a URL in the model's reply points at."""
    injected = Canary()
    try:
        yield injected
    finally:
        injected.server.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, model_url: str) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("aider") / "home"
    database = f"sqlite:///{home.parent / 'hub.db'}"
    with live_server(home, database, ollama_urls=model_url, engines=str(ENGINES)) as server:
        yield server


@pytest.fixture
def api(hub: LiveServer) -> Iterator[httpx.Client]:
    with hub.client(30) as client:
        yield client


def start_aider(api: httpx.Client, task_id: int, model: str, **options: object) -> int:
    body = {"engine": "aider", "model": model, "options": {"files": ["calc.py"], **options}}
    response = api.post(f"/tasks/{task_id}/runs", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["engine"] == "aider"
    run_id: int = response.json()["id"]
    return run_id


def finished(api: httpx.Client, run_id: int) -> Json:
    wait_until(
        lambda: api.get(f"/runs/{run_id}").json()["status"] not in {"queued", "running"},
        seconds=180,
        what=f"run {run_id} to end",
    )
    summary: Json = api.get(f"/runs/{run_id}").json()
    return summary


def aider_output(hub: LiveServer, run_id: int) -> str:
    logs = [e["data"] for e in events(hub, run_id) if e["type"] == "log"]
    return "".join(str(d["output"]) for d in logs if d.get("engine") == "aider")


def gateway_tokens(hub: LiveServer) -> int:
    database = Path(hub.env["WFHUB_HOME"]).parent / "hub.db"
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT count(*) FROM api_tokens WHERE kind = 'gateway'")
        count: int = row.fetchone()[0]
    return count


def test_aider_fixes_the_bug_and_wfhub_commits_it(
    api: httpx.Client, hub: LiveServer, model_url: str
) -> None:
    pid, task_id = project_with_bug(api, "aider-fix")
    with canary() as injected:
        steal = f"http://127.0.0.1:{injected.port}/steal?token={hub.token}"
        chatter = f"Fixing the sign. Also see {steal} and https://example.com/docs"
        script(model_url, "aider-m", edit("+", chatter))
        run_id = start_aider(api, task_id, "aider-m", check_command=CHECK)
        summary = finished(api, run_id)
        assert summary["status"] == "succeeded", (summary, aider_output(hub, run_id))
        assert injected.seen == []  # URLs in replies are not fetched
    assert summary["changed_files"] == ["calc.py"]
    assert summary["branch"] == f"wfhub/run-{run_id}"
    shown = api.get(f"/workspace/{pid}/git/commits/{summary['commit_sha']}").json()
    assert "+    return a + b" in str(shown)
    # Every model call went through the gateway, in the ledger under the run.
    assert summary["llm_requests"] >= 1
    assert summary["prompt_tokens"] >= 50
    assert summary["completion_tokens"] >= 10
    first = seen(model_url, "aider-m")[0]
    assert "Fix add" in str(first)  # the task prompt reached the model
    output = aider_output(hub, run_id)
    assert "Applied edit to calc.py" in output
    assert gateway_tokens(hub) == 0  # the run's gateway token is revoked


def test_a_failed_check_goes_back_to_aider(
    api: httpx.Client, hub: LiveServer, model_url: str
) -> None:
    _, task_id = project_with_bug(api, "aider-retry")
    script(
        model_url,
        "aider-retry",
        edit("*"),
        edit("+"),
    )
    run_id = start_aider(api, task_id, "aider-retry", check_command=CHECK)
    summary = finished(api, run_id)
    assert summary["status"] == "succeeded", summary
    sent = seen(model_url, "aider-retry")
    assert len(sent) >= 2
    assert "fails" in str(sent[-1])
    assert "AssertionError: 6" in str(sent[-1])
    results = [e["data"] for e in events(hub, run_id) if e["type"] == "tool_result"]
    assert [r["ok"] for r in results] == [False, True]


def test_aider_failing_every_round_fails_the_run(
    api: httpx.Client, hub: LiveServer, model_url: str
) -> None:
    """Started from the terminal, as a user would: `wfhub run --engine aider --follow`."""
    _, task_id = project_with_bug(api, "aider-never")
    script(model_url, "aider-never", *[{"content": "I am not sure."}] * 3)
    args = ["--engine", "aider", "--model", "aider-never", "--check", CHECK, "--follow"]
    shown = hub.cli("run", str(task_id), *args)
    assert shown.returncode == 1, shown.stderr
    assert "(aider-never)" in shown.stdout  # queued with the model asked for
    assert "still fails after 3 aider rounds" in shown.stdout
    run_id = api.get(f"/tasks/{task_id}/runs").json()[0]["id"]
    summary = finished(api, run_id)
    assert summary["engine"] == "aider"
    assert summary["status"] == "failed"
    assert "still fails after 3 aider rounds" in summary["error"]
    assert summary["commit_sha"] is None


def test_cancel_kills_aider(api: httpx.Client, hub: LiveServer, model_url: str) -> None:
    _, task_id = project_with_bug(api, "aider-cancel")
    script(model_url, "aider-hang", {"hang": True})
    run_id = start_aider(api, task_id, "aider-hang")
    wait_until(lambda: len(seen(model_url, "aider-hang")) == 1, seconds=120, what="aider's call")
    running = aider_processes("aider-hang")
    assert running
    pid = running[-1].split()[0]
    # Aider has no network but the relay to the gateway: its own namespace, where Ollama's
    # port is the relay's.
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    environ = dict(
        v.split(b"=", 1) for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if v
    )
    assert environ[b"OLLAMA_API_BASE"] == b"http://127.0.0.1:11434/ollama"
    # Aider holds the run's gateway token, never the API token.
    key = environ[b"OLLAMA_API_KEY"]
    assert key.startswith(b"wfh_")
    assert key.decode() != hub.token
    assert gateway_tokens(hub) == 1
    refused = httpx.get(f"{hub.url}/projects", headers={"Authorization": f"Bearer {key.decode()}"})
    assert refused.status_code == 401  # it opens the gateway only
    assert api.post(f"/runs/{run_id}/cancel").status_code == 202
    summary = finished(api, run_id)
    assert summary["status"] == "cancelled"
    assert aider_processes("aider-hang") == []
    assert gateway_tokens(hub) == 0


def aider_processes(model: str) -> list[str]:
    """Command lines of the sandbox and Aider processes working with `model`."""
    pattern = f"bin/aider --model ollama_chat/{model} "
    found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True, check=False)
    return found.stdout.splitlines()
