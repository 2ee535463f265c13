"""The real server in a subprocess, driven by the real CLI."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.live_server import live_server, run_wfhub, server_env
from wfhub.security.auth import CACHE_SECONDS

pytestmark = pytest.mark.slow


def test_serve_and_drive_it_with_the_cli(tmp_path: Path, fresh_database_url: str) -> None:
    with live_server(tmp_path / "home", fresh_database_url) as server:
        token_line = server.cli("token")
        assert token_line.returncode == 0
        assert token_line.stdout.split()[-1] == server.token

        created = server.cli("project", "create", "CLI Demo", "--description", "from the cli")
        assert created.returncode == 0, created.stderr
        assert "created project 1" in created.stdout
        listed = server.cli("project", "list")
        assert "CLI Demo" in listed.stdout
        assert "cli-demo" in listed.stdout

        parent = server.cli("task", "create", "1", "Parent task")
        assert "created task 1" in parent.stdout
        child = server.cli("task", "create", "1", "Child task", "--parent", "1", "--priority", "3")
        assert child.returncode == 0, child.stderr
        tree = server.cli("task", "list", "1")
        lines = tree.stdout.splitlines()
        parent_line = next(i for i, line in enumerate(lines) if "Parent task" in line)
        assert "Child task" in lines[parent_line + 1]

        httpx.post(
            f"{server.url}/tasks/2/acceptance-criteria",
            json={"description": "it works"},
            headers={"Authorization": f"Bearer {server.token}"},
        ).raise_for_status()
        shown = server.cli("task", "show", "2")
        assert "Child task" in shown.stdout
        assert "it works" in shown.stdout

        missing = server.cli("task", "show", "999")
        assert missing.returncode == 1
        assert "not_found" in missing.stderr

        rotated = server.cli("token", "--rotate")
        new_token = rotated.stdout.split()[-1]
        assert new_token != server.token
        assert (server.cli("project", "list")).returncode == 0  # the CLI reads the new file
        # The server caches a verified token for CACHE_SECONDS; after that the old one is dead.
        deadline = time.monotonic() + CACHE_SECONDS + 2
        while True:
            old = httpx.get(
                f"{server.url}/projects", headers={"Authorization": f"Bearer {server.token}"}
            )
            if old.status_code == 401 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert old.status_code == 401


def test_refuses_auth_disabled_on_public_bind(tmp_path: Path, fresh_database_url: str) -> None:
    env = server_env(tmp_path / "home", fresh_database_url, 1)
    env["WFHUB_AUTH_DISABLED"] = "true"
    result = run_wfhub(env, "serve", "--host", "0.0.0.0")  # noqa: S104
    assert result.returncode == 2
    assert "refusing to start" in result.stderr


def test_doctor_and_db_upgrade(tmp_path: Path, fresh_database_url: str) -> None:
    env = server_env(tmp_path / "home", fresh_database_url, 1)
    upgraded = run_wfhub(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    doctor = run_wfhub(env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "at head" in doctor.stdout
    if fresh_database_url.startswith("postgresql"):
        assert "postgresql+psycopg" in doctor.stdout
    bad = run_wfhub({**env, "WFHUB_PORT": "99999"}, "doctor")
    assert bad.returncode == 2
    assert "invalid configuration" in bad.stderr


@pytest.mark.filesystem
def test_workspace_commands(tmp_path: Path, fresh_database_url: str) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "hello.py").write_text("print('needle')\n")
    ident = ["-c", "user.name=S", "-c", "user.email=s@x"]
    subprocess.run(["git", "init", "-q", "--initial-branch=main"], cwd=source, check=True)
    subprocess.run(["git", "add", "-A"], cwd=source, check=True)
    subprocess.run(["git", *ident, "commit", "-qm", "seed"], cwd=source, check=True)
    with live_server(tmp_path / "home", fresh_database_url) as server:
        assert server.cli("project", "create", "Cloned").returncode == 0
        cloned = server.cli("workspace", "setup", "1", "clone", str(source))
        assert cloned.returncode == 0, cloned.stderr
        assert "cloned" in cloned.stdout
        assert "hello.py" in server.cli("workspace", "ls", "1").stdout
        assert server.cli("workspace", "cat", "1", "hello.py").stdout == "print('needle')\n"
        found = server.cli("workspace", "search", "1", "needle")
        assert "hello.py:1:8: print('needle')" in found.stdout
        (tmp_path / "home" / "workspaces" / "cloned" / "new.txt").write_text("x\n")
        assert "untracked  new.txt" in server.cli("workspace", "status", "1").stdout
        committed = server.cli("workspace", "commit", "1", "-m", "add new", "--all")
        assert committed.returncode == 0, committed.stderr
        log = server.cli("workspace", "log", "1").stdout
        assert "wfhub: add new" in log
        assert "S: seed" in log
        assert server.cli("workspace", "cat", "1", "../etc").returncode == 1
        made = server.cli("project", "create", "Fresh", "--setup", "init")
        assert made.returncode == 0, made.stderr
        assert "on main" in server.cli("workspace", "status", "2").stdout
        assert server.cli("project", "create", "Odd", "--setup", "clone").returncode == 1
