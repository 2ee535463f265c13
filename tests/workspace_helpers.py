"""Helpers for workspace tests: a project whose workspace is a real git repository."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from wfhub.config import Settings


@dataclass
class Repo:
    client: httpx.AsyncClient
    base: str  # /workspace/{project_id}
    root: Path

    def git(self, *args: str) -> str:
        """Run real git in the workspace, as a user at a terminal would."""
        done = subprocess.run(
            ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


async def make_repo(
    client: httpx.AsyncClient, settings: Settings, name: str, *, git: bool = True
) -> Repo:
    response = await client.post("/projects", json={"name": name})
    assert response.status_code == 201, response.text
    project = response.json()
    base = f"/workspace/{project['id']}"
    setup = await client.post(f"{base}/setup", json={"action": "init" if git else "create"})
    assert setup.status_code == 200, setup.text
    return Repo(client, base, settings.workspaces_dir / project["workspace_path"])
