"""Git operations that change a repository: stage, commit, branches, stash, remotes, sync,
worktrees. Names and refs are validated; paths follow `--`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from wfhub.errors import GitFailed, InvalidInput, InvalidRef, NotFound
from wfhub.workspace.git import Git, check_rev
from wfhub.workspace.git_status import read_status

_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_URL_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
SYNC_TIMEOUT = 300.0


def check_remote_name(name: str) -> str:
    if not _REMOTE_NAME.fullmatch(name):
        raise InvalidRef(f"{name!r} is not a valid remote name")
    return name


def check_source(source: str) -> str:
    """A clone or remote URL, or an absolute local path; option-like and `ext::` refused."""
    if source.startswith(_URL_SCHEMES) or _SCP_LIKE.fullmatch(source):
        return source
    if source.startswith("/") and "\0" not in source:
        if not Path(source).exists():
            raise InvalidInput(f"{source!r} does not exist")
        return source
    raise InvalidInput(
        f"{source!r} is not a repository URL (https, http, ssh, git, file, user@host:path) "
        "or an absolute local path"
    )


async def stage(git: Git, paths: list[str]) -> None:
    await git.run("add", "--all", "--", *paths)


async def unstage(git: Git, paths: list[str]) -> None:
    if (await git.run("rev-parse", "--verify", "--quiet", "HEAD", check=False)).code != 0:
        await git.run("rm", "--cached", "--quiet", "-r", "--", *paths)  # before the first commit
    else:
        await git.run("restore", "--staged", "--", *paths)


async def commit(git: Git, message: str, *, all_changes: bool = False) -> dict[str, Any]:
    """Commit what is staged (or, with `all_changes`, every change); author from settings."""
    if all_changes:
        await git.run("add", "--all")
    status = await read_status(git)
    if status.of_kind("unmerged"):
        raise GitFailed("resolve the conflicted files before committing")
    if not status.staged:
        raise InvalidInput("nothing is staged to commit")
    await git.run("commit", "--no-verify", "--no-gpg-sign", "--file=-", input=message.encode())
    sha = (await git.run("rev-parse", "HEAD")).text.strip()
    return {"sha": sha, "files": len(status.staged)}


async def branches(git: Git) -> list[dict[str, Any]]:
    fmt = "%(refname:short)%1f%(objectname)%1f%(HEAD)%1f%(upstream:short)%1f%(subject)"
    out = (await git.run("for-each-ref", f"--format={fmt}", "refs/heads")).text
    result = []
    for line in out.splitlines():
        name, sha, head, upstream, subject = line.split("\x1f", 4)
        result.append(
            {
                "name": name,
                "sha": sha,
                "current": head == "*",
                "upstream": upstream or None,
                "subject": subject,
            }
        )
    return result


async def create_branch(git: Git, name: str, start: str | None, *, checkout: bool) -> None:
    await git.check_branch_name(name)
    args = ["switch", "--create", name] if checkout else ["branch", name]
    await git.run(*args, *([check_rev(start)] if start else []))


async def delete_branch(git: Git, name: str, *, force: bool) -> None:
    await git.check_branch_name(name)
    if name not in {b["name"] for b in await branches(git)}:
        raise NotFound(f"branch {name!r} does not exist")
    await git.run("branch", "--delete", *(["--force"] if force else []), name)


async def checkout(git: Git, ref: str) -> None:
    """Switch to a branch, or detach at any other revision."""
    names = {b["name"] for b in await branches(git)}
    if ref in names:
        await git.run("switch", "--end-of-options", ref)
    else:
        await git.run("switch", "--detach", "--end-of-options", check_rev(ref))


async def stash_list(git: Git) -> list[dict[str, str]]:
    out = (await git.run("stash", "list", "--format=%gd%x1f%H%x1f%s")).text
    fields = ("ref", "sha", "message")
    return [dict(zip(fields, line.split("\x1f"), strict=True)) for line in out.splitlines()]


async def stash(git: Git, action: str, *, message: str | None = None, index: int = 0) -> None:
    """push (untracked files included), or pop/apply/drop `stash@{index}`."""
    if action == "push":
        await git.run(
            "stash", "push", "--include-untracked", *(["--message", message] if message else [])
        )
    elif action in ("pop", "apply", "drop"):
        await git.run("stash", action, f"stash@{{{index}}}")
    else:
        raise InvalidInput(f"unknown stash action {action!r}")


async def remotes(git: Git) -> list[dict[str, str]]:
    out = (await git.run("remote", "--verbose")).text
    seen: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        name, url, _ = line.replace("\t", " ").split(" ", 2)
        seen.setdefault(name, {"name": name, "url": url})
    return list(seen.values())


async def add_remote(git: Git, name: str, url: str) -> None:
    await git.run("remote", "add", "--", check_remote_name(name), check_source(url))


async def sync(git: Git, action: str, remote: str, branch: str | None) -> dict[str, Any]:
    """fetch, pull (fast-forward or merge; conflicts come back as conflicts) or push."""
    check_remote_name(remote)
    refs = [check_rev(branch)] if branch else []
    if action == "fetch":
        result = await git.run("fetch", "--end-of-options", remote, *refs, limit_s=SYNC_TIMEOUT)
    elif action == "push":
        result = await git.run(
            "push", "--porcelain", "--end-of-options", remote, *refs, limit_s=SYNC_TIMEOUT
        )
    elif action == "pull":
        result = await git.run(
            "pull", "--no-rebase", "--no-edit", "--end-of-options", remote, *refs,
            check=False, limit_s=SYNC_TIMEOUT,
        )  # fmt: skip
        if result.code != 0:
            conflicted = (await read_status(git)).of_kind("unmerged")
            if conflicted:
                return {
                    "ok": False,
                    "conflicts": [e.path for e in conflicted],
                    "output": result.stderr,
                }
            raise GitFailed(f"git pull failed: {result.stderr.strip()[:2000]}")
    else:
        raise InvalidInput(f"unknown action {action!r}")
    return {"ok": True, "conflicts": [], "output": (result.stderr + result.text).strip()}


async def add_worktree(git: Git, target: Path, branch: str, start: str | None) -> dict[str, Any]:
    """A linked worktree at `target` on a new `branch` (for one task's agent runs)."""
    await git.check_branch_name(branch)
    if await asyncio.to_thread(target.exists):
        raise InvalidInput(f"worktree folder {target.name!r} already exists")
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    args = ["worktree", "add", "-b", branch, "--", str(target)]
    await git.run(*args, *([check_rev(start)] if start else []))
    return {"path": str(target), "branch": branch}


async def worktrees(git: Git) -> list[dict[str, Any]]:
    out = (await git.run("worktree", "list", "--porcelain")).text
    result: list[dict[str, Any]] = []
    for block in out.strip().split("\n\n"):
        item: dict[str, Any] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            item[key] = value or True
        if item:
            branch = item.get("branch")
            result.append(
                {
                    "path": item.get("worktree"),
                    "head": item.get("HEAD"),
                    "branch": branch.removeprefix("refs/heads/")
                    if isinstance(branch, str)
                    else None,
                }
            )
    return result


async def remove_worktree(git: Git, target: Path, *, force: bool) -> None:
    await git.run("worktree", "remove", *(["--force"] if force else []), "--", str(target))
