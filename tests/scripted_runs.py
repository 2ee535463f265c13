"""Helpers for runs against a real wfhub process whose model is the scripted Ollama host
(`tests/scripted_ollama.py`): start the host, script its replies, read what it was sent,
read a run's SSE stream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.live_server import LiveServer, stop
from tests.ops_helpers import answers, wait_until

BUGGY = "def add(a, b):\n    return a - b\n"
Json = dict[str, Any]


@contextmanager
def scripted_model(folder: Path) -> Iterator[str]:
    """The scripted Ollama host on a free port (its URL), stopped after."""
    port = free_port()
    log = (folder / "scripted.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.scripted_ollama", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url), what="the scripted model server")
        yield url
    finally:
        stop(process)
        log.close()


def call(name: str, **arguments: object) -> Json:
    return {"content": "", "tool_calls": [{"function": {"name": name, "arguments": arguments}}]}


def script(model_url: str, model: str, *replies: Json) -> None:
    httpx.post(f"{model_url}/_script", json={"model": model, "replies": list(replies)})


def seen(model_url: str, model: str) -> list[list[Json]]:
    result: list[list[Json]] = httpx.get(f"{model_url}/_requests", params={"model": model}).json()
    return result


def project_with_bug(api: httpx.Client, name: str) -> tuple[int, int]:
    project = api.post("/projects", json={"name": name, "workspace": "init"}).json()
    pid = project["id"]
    assert api.put(f"/workspace/{pid}/file", params={"path": "calc.py"}, content=BUGGY).is_success
    commit = api.post(f"/workspace/{pid}/git/commit", json={"message": "start", "all": True})
    assert commit.is_success, commit.text
    task = api.post(f"/projects/{pid}/tasks", json={"title": "Fix add"}).json()
    return pid, task["id"]


def events(
    hub: LiveServer, run_id: int, after: int | None = None, limit: int = 1000, route: str = "/runs"
) -> list[Json]:
    """Read the SSE stream at `route`/{id}/events (until it ends, or `limit` events)."""
    headers = {"Authorization": f"Bearer {hub.token}"}
    if after is not None:
        headers["Last-Event-ID"] = str(after)
    found: list[Json] = []
    with httpx.stream("GET", f"{hub.url}{route}/{run_id}/events", headers=headers, timeout=60) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        entry: Json = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                entry["seq"] = int(line[4:])
            elif line.startswith("event: "):
                entry["type"] = line[7:]
            elif line.startswith("data: "):
                entry["data"] = json.loads(line[6:])
            elif not line and entry:
                found.append(entry)
                entry = {}
                if len(found) >= limit:
                    break
    return found


def start(api: httpx.Client, task_id: int, model: str, **options: object) -> Json:
    response = api.post(f"/tasks/{task_id}/runs", json={"model": model, "options": options})
    assert response.status_code == 202, response.text
    body: Json = response.json()
    assert body["status"] == "queued"
    return body
