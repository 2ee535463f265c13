"""A small repository with a one-line bug and its failing test, shared by the end-to-end
agent test and `bench/agent.py`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.ops_helpers import wait_until

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = (
    "import unittest\n\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n\n"
    'if __name__ == "__main__":\n    unittest.main()\n'
)


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
    finished = {"succeeded", "failed", "cancelled", "interrupted"}
    wait_until(lambda: api.get(f"/runs/{run['id']}").json()["status"] in finished, 1800, "run")
    summary: dict[str, Any] = api.get(f"/runs/{run['id']}").json()
    return summary
