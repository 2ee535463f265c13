"""A small repository with a one-line bug and its failing test, and a `wfhub serve` whose
model is the embedded one; shared by the end-to-end agent test and `bench/agent.py`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.live_server import LiveServer, live_server
from tests.ops_helpers import wait_until
from wfhub.config import Settings
from wfhub.llm.catalog import CATALOG

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = (
    "import unittest\n\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n\n"
    'if __name__ == "__main__":\n    unittest.main()\n'
)
CHECK = "python3 -m unittest -q"
FINISHED = {"succeeded", "failed", "cancelled", "interrupted"}


def bug_repo(api: httpx.Client, name: str) -> int:
    """A project with a one-line bug and a failing test; the task to fix it."""
    pid = api.post("/projects", json={"name": name, "workspace": "init"}).json()["id"]
    for path, text in (("calc.py", BUGGY), ("test_calc.py", TEST)):
        api.put(f"/workspace/{pid}/file", params={"path": path}, content=text)
    api.post(f"/workspace/{pid}/git/commit", json={"message": "start", "all": True})
    task = api.post(
        f"/projects/{pid}/tasks",
        json={
            "title": "Fix the failing test",
            "description": "`python3 -m unittest` fails: add() in calc.py returns the wrong "
            "value. Fix calc.py so the test passes. Do not change test_calc.py.",
        },
    ).json()
    return int(task["id"])


def run_to_end(api: httpx.Client, task_id: int, body: dict[str, Any]) -> dict[str, Any]:
    run = api.post(f"/tasks/{task_id}/runs", json=body).json()
    wait_until(lambda: api.get(f"/runs/{run['id']}").json()["status"] in FINISHED, 1800, "run")
    summary: dict[str, Any] = api.get(f"/runs/{run['id']}").json()
    return summary


def installed_model(model: str) -> Path:
    """Where `wfhub llm install MODEL` (run by `make test` and `make bench`) put the model."""
    return Settings(_env_file=None).models_dir / CATALOG[model].file_name


@contextmanager
def embedded_hub(folder: Path, model: str, **settings: str) -> Iterator[LiveServer]:
    """`wfhub serve` with its embedded model server serving the installed `model` (linked
    into a fresh data dir, not copied), once the model answers; `settings` as for
    `live_server`."""
    installed = installed_model(model)
    home = folder / "home"
    (home / "models").mkdir(parents=True)
    for path in (installed, installed.with_name(installed.name + ".verified")):
        (home / "models" / path.name).symlink_to(path)
    database = f"sqlite:///{folder / 'hub.db'}"
    port = str(free_port())
    with live_server(home, database, default_model=model, llm_port=port, **settings) as hub:
        with hub.client() as api:
            wait_until(
                lambda: api.get("/ollama/status").json()["service_status"] == "healthy",
                300,
                "the embedded model",
            )
        yield hub
