"""Git through the API on real repositories, including a bare remote for fetch/pull/push."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import orjson
import pytest

from tests.workspace_helpers import Repo, make_repo
from wfhub.config import Settings
from wfhub.errors import GitFailed
from wfhub.workspace import git_history
from wfhub.workspace.git import Git

pytestmark = pytest.mark.filesystem


@pytest.fixture
async def repo(client: httpx.AsyncClient, settings: Settings) -> Repo:
    repo = await make_repo(client, settings, "Git")
    repo.write("a.txt", "one\ntwo\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "first")
    return repo


async def test_status_stage_unstage_commit(repo: Repo, settings: Settings) -> None:
    repo.write("a.txt", "one\nTWO\n")
    repo.write("b.txt", "new\n")
    status = (await repo.client.get(f"{repo.base}/git/status")).json()
    assert status["branch"] == "main"
    assert [e["path"] for e in status["unstaged"]] == ["a.txt"]
    assert status["untracked"] == ["b.txt"]
    assert status["staged"] == []

    assert (
        await repo.client.post(f"{repo.base}/git/stage", json={"paths": ["b.txt"]})
    ).status_code == 204
    status = (await repo.client.get(f"{repo.base}/git/status")).json()
    assert [(e["path"], e["status"]) for e in status["staged"]] == [("b.txt", "added")]
    assert (
        await repo.client.post(f"{repo.base}/git/unstage", json={"paths": ["b.txt"]})
    ).status_code == 204
    assert (await repo.client.get(f"{repo.base}/git/status")).json()["untracked"] == ["b.txt"]

    empty = await repo.client.post(f"{repo.base}/git/commit", json={"message": "nothing"})
    assert empty.status_code == 422
    done = await repo.client.post(
        f"{repo.base}/git/commit", json={"message": "second\n\nbody", "all": True}
    )
    assert done.status_code == 201
    assert done.json()["files"] == 2
    log = (await repo.client.get(f"{repo.base}/git/log")).json()
    assert [c["subject"] for c in log["items"]] == ["second", "first"]
    assert log["items"][0]["author"] == {
        "name": settings.git_author_name,
        "email": settings.git_author_email,
    }
    assert log["items"][0]["body"] == "body"
    assert (await repo.client.get(f"{repo.base}/git/status")).json()["clean"] is True


async def test_diff_kinds_and_show(repo: Repo) -> None:
    base = repo.git("rev-parse", "HEAD").strip()
    repo.write("a.txt", "one\nchanged\n")
    work = (await repo.client.get(f"{repo.base}/git/diff")).json()
    assert work["files"][0]["new_path"] == "a.txt"
    assert (work["files"][0]["additions"], work["files"][0]["deletions"]) == (1, 1)
    assert (await repo.client.get(f"{repo.base}/git/diff", params={"staged": True})).json()[
        "files"
    ] == []
    repo.git("commit", "-qam", "change")
    between = (
        await repo.client.get(f"{repo.base}/git/diff", params={"base": base, "head": "HEAD"})
    ).json()
    assert "+changed" in between["files"][0]["patch"]
    unknown = await repo.client.get(f"{repo.base}/git/diff", params={"base": "nosuchref"})
    assert unknown.status_code == 409
    assert "nosuchref" in unknown.json()["detail"]
    only = (
        await repo.client.get(f"{repo.base}/git/diff", params={"base": base, "path": "zzz"})
    ).json()
    assert only["files"] == []
    shown = (await repo.client.get(f"{repo.base}/git/commits/HEAD")).json()
    assert shown["subject"] == "change"
    assert shown["files"][0]["new_path"] == "a.txt"
    assert (await repo.client.get(f"{repo.base}/git/commits/nosuchref")).status_code == 409


async def test_diff_caps_mark_truncation(repo: Repo) -> None:
    repo.write(
        "huge.txt",
        "".join(f"line {i} {'x' * 60}\n" for i in range(git_history.DIFF_MAX_LINES + 10)),
    )
    repo.git("add", "huge.txt")
    diff = (await repo.client.get(f"{repo.base}/git/diff", params={"staged": True})).json()
    assert diff["truncated"] is True
    assert diff["files"][0]["truncated"] is True
    assert len(diff["files"][0]["patch"].encode()) <= git_history.FILE_MAX_BYTES + 1000


async def test_log_paging_and_per_path(repo: Repo) -> None:
    for i in range(5):
        repo.write(f"f{i}.txt", str(i))
        repo.git("add", "-A")
        repo.git("commit", "-qm", f"c{i}")
    page = (await repo.client.get(f"{repo.base}/git/log", params={"limit": 2, "offset": 1})).json()
    assert [c["subject"] for c in page["items"]] == ["c3", "c2"]
    assert page["has_more"] is True
    per_path = (await repo.client.get(f"{repo.base}/git/log", params={"path": "a.txt"})).json()
    assert [c["subject"] for c in per_path["items"]] == ["first"]
    blame = (await repo.client.get(f"{repo.base}/git/blame", params={"path": "a.txt"})).json()
    assert [line["text"] for line in blame["lines"]] == ["one", "two"]
    assert blame["commits"][blame["lines"][0]["sha"]]["summary"] == "first"


async def test_branches_checkout_and_stash(repo: Repo) -> None:
    created = await repo.client.post(
        f"{repo.base}/git/branches", json={"name": "feature/x", "checkout": True}
    )
    assert created.status_code == 201
    assert {b["name"]: b["current"] for b in created.json()} == {"feature/x": True, "main": False}
    back = await repo.client.post(f"{repo.base}/git/checkout", json={"ref": "main"})
    assert {b["name"]: b["current"] for b in back.json()}["main"] is True
    assert (await repo.client.delete(f"{repo.base}/git/branches/feature/x")).status_code == 204
    assert (await repo.client.delete(f"{repo.base}/git/branches/nope")).status_code == 404

    repo.write("a.txt", "stashed\n")
    assert (
        await repo.client.post(f"{repo.base}/git/stash", json={"action": "push", "message": "wip"})
    ).status_code == 204
    assert (repo.root / "a.txt").read_text() == "one\ntwo\n"
    listed = (await repo.client.get(f"{repo.base}/git/stash")).json()
    assert listed[0]["ref"] == "stash@{0}"
    assert "wip" in listed[0]["message"]
    assert (
        await repo.client.post(f"{repo.base}/git/stash", json={"action": "pop"})
    ).status_code == 204
    assert (repo.root / "a.txt").read_text() == "stashed\n"


def _git(*args: str, cwd: Path | None = None) -> None:
    ident = ["-c", "user.name=O", "-c", "user.email=o@x"]
    subprocess.run(["git", *ident, *args], cwd=cwd, check=True)


async def test_push_pull_round_trip_and_conflicts(repo: Repo, tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    _git("init", "-q", "--bare", "--initial-branch=main", str(bare))
    bad = await repo.client.post(
        f"{repo.base}/git/remotes", json={"name": "x", "url": "ext::sh -c touch% /tmp/pwn"}
    )
    assert bad.status_code == 422
    added = await repo.client.post(
        f"{repo.base}/git/remotes", json={"name": "origin", "url": str(bare)}
    )
    assert added.json() == [{"name": "origin", "url": str(bare)}]
    pushed = await repo.client.post(
        f"{repo.base}/git/push", json={"remote": "origin", "branch": "main"}
    )
    assert pushed.status_code == 200, pushed.text

    other = tmp_path / "other"
    _git("clone", "-q", str(bare), str(other))
    (other / "a.txt").write_text("one\nremote\n")
    _git("commit", "-qam", "remote change", cwd=other)
    _git("push", "-q", "origin", "main", cwd=other)

    fetched = await repo.client.post(f"{repo.base}/git/fetch", json={"remote": "origin"})
    assert fetched.json()["ok"] is True
    repo.write("a.txt", "one\nlocal\n")
    repo.git("commit", "-qam", "local change")
    pulled = await repo.client.post(
        f"{repo.base}/git/pull", json={"remote": "origin", "branch": "main"}
    )
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["ok"] is False
    assert pulled.json()["conflicts"] == ["a.txt"]
    status = (await repo.client.get(f"{repo.base}/git/status")).json()
    assert [e["path"] for e in status["conflicted"]] == ["a.txt"]
    refused = await repo.client.post(f"{repo.base}/git/commit", json={"message": "m"})
    assert refused.status_code == 409


async def test_worktree_per_task(repo: Repo, settings: Settings) -> None:
    made = await repo.client.post(f"{repo.base}/worktrees", json={"task_id": 7})
    assert made.status_code == 201, made.text
    path = Path(made.json()["path"])
    assert (path / "a.txt").read_text() == "one\ntwo\n"
    assert made.json()["branch"] == "wfhub/task-7"
    listed = (await repo.client.get(f"{repo.base}/worktrees")).json()
    assert {w["branch"] for w in listed} == {"main", "wfhub/task-7"}
    again = await repo.client.post(f"{repo.base}/worktrees", json={"task_id": 7})
    assert again.status_code == 422
    assert (await repo.client.delete(f"{repo.base}/worktrees/7")).status_code == 204
    assert not path.exists()  # noqa: ASYNC240 - a test reading its own tmp dir


async def test_clone_reports_progress(
    client: httpx.AsyncClient, settings: Settings, repo: Repo
) -> None:
    project = (await client.post("/projects", json={"name": "Clone"})).json()
    base = f"/workspace/{project['id']}"
    async with client.stream(
        "POST", f"{base}/setup", json={"action": "clone", "source": str(repo.root)}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        events = [orjson.loads(line) async for line in response.aiter_lines() if line]
    assert events[-1]["phase"] == "done"
    assert events[-1]["info"]["git"] is True
    assert (
        settings.workspaces_dir / project["workspace_path"] / "a.txt"
    ).read_text() == "one\ntwo\n"
    leftovers = [p.name for p in settings.workspaces_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []

    other = (await client.post("/projects", json={"name": "Bad clone"})).json()
    failed = await client.post(
        f"/workspace/{other['id']}/setup", json={"action": "clone", "source": "--upload-pack=x"}
    )
    assert failed.status_code == 422
    missing = await client.post(
        f"/workspace/{other['id']}/setup", json={"action": "clone", "source": "/nonexistent/repo"}
    )
    assert missing.status_code == 422


async def test_failed_clone_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    project = (await client.post("/projects", json={"name": "Failing"})).json()
    async with client.stream(
        "POST",
        f"/workspace/{project['id']}/setup",
        json={"action": "clone", "source": str(not_a_repo)},
    ) as response:
        events = [orjson.loads(line) async for line in response.aiter_lines() if line]
    assert events[0] == {"phase": "starting", "percent": 0}
    assert events[-1]["error"] == "git_failed"
    assert sorted(p.name for p in settings.workspaces_dir.iterdir()) == []


async def test_git_output_over_the_cap_fails_cleanly(repo: Repo) -> None:
    git = Git(repo.root)
    assert (await git.run("log", max_output=10_000)).text.startswith("commit ")
    with pytest.raises(GitFailed, match="printed over 10 bytes"):
        await git.run("log", max_output=10)
