"""Creating a workspace folder (empty, `git init`, or a clone with progress) and describing it."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from wfhub.errors import GitFailed, WorkspaceExists
from wfhub.workspace.git import Git
from wfhub.workspace.git_changes import check_source

_PROGRESS = re.compile(r"^(?:remote: )?([A-Za-z ]+):\s+(\d+)%")
INFO_COUNT_LIMIT = 200_000


def _prepare(root: Path, *, create: bool) -> None:
    """Refuse a non-empty folder; create the folder itself or (for a clone) its parent."""
    if root.exists() and any(root.iterdir()):
        raise WorkspaceExists(f"the workspace folder {root.name!r} already exists and is not empty")
    (root if create else root.parent).mkdir(parents=True, exist_ok=True)


def _move_into_place(temp: Path, root: Path) -> None:
    if root.exists():
        root.rmdir()  # empty, checked before cloning
    os.rename(temp, root)


async def create(root: Path, *, init_git: bool, git: Git) -> None:
    """Create the folder (and `git init` it)."""
    await asyncio.to_thread(_prepare, root, create=True)
    if init_git:
        await git.run("init", "--quiet", "--initial-branch=main")


async def clone(root: Path, source: str, git: Git) -> AsyncGenerator[dict[str, Any]]:
    """Progress events of a clone into a temporary sibling that is renamed into place when
    complete. If the clone fails, or the consumer stops early (the generator is closed and git
    killed), the temporary folder is removed: nothing half-cloned is left behind.

    The first event, `starting`, comes after the source and folder were checked, so a caller
    can turn those errors into an ordinary error response before streaming begins."""
    check_source(source)
    await asyncio.to_thread(_prepare, root, create=False)
    yield {"phase": "starting", "percent": 0}
    temp = root.parent / f".{root.name}.clone-{secrets.token_hex(4)}"
    outer = Git(root.parent, author=git.author)
    done = False
    try:
        async with outer.process(["clone", "--progress", "--", source, str(temp)]) as proc:
            assert proc.stderr is not None
            tail: list[str] = []
            buffer = b""
            while chunk := await proc.stderr.read(4096):
                buffer += chunk
                *lines, buffer = re.split(rb"[\r\n]", buffer)
                for raw in lines:
                    line = raw.decode("utf-8", "replace").strip()
                    if match := _PROGRESS.match(line):
                        yield {"phase": match[1].strip(), "percent": int(match[2])}
                    elif line:
                        tail = [*tail[-5:], line]
            code = await proc.wait()
        if code != 0:
            raise GitFailed(f"git clone failed: {' '.join(tail)[:2000]}")
        await asyncio.to_thread(_move_into_place, temp, root)
        done = True
    finally:
        if not done:
            await asyncio.to_thread(shutil.rmtree, temp, True)


def _measure(root: Path) -> tuple[int, int, bool]:
    files = size = 0
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            try:
                size += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
            files += 1
            if files >= INFO_COUNT_LIMIT:
                return files, size, True
    return files, size, False


async def info(root: Path, git: Git) -> dict[str, Any]:
    """Whether the workspace exists and is a git repository, its branch, remotes, size."""
    if not await asyncio.to_thread(root.is_dir):
        return {"exists": False, "git": False}
    files, size, partial = await asyncio.to_thread(_measure, root)
    result: dict[str, Any] = {
        "exists": True,
        "git": False,
        "files": files,
        "size": size,
        "counted_partially": partial,
    }
    if not await git.is_repo():
        return result
    branch = await git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    head = await git.run("rev-parse", "--verify", "--quiet", "HEAD", check=False)
    remote = await git.run("remote", "get-url", "origin", check=False)
    return result | {
        "git": True,
        "branch": branch.text.strip() or None,
        "head": head.text.strip() or None,
        "remote": remote.text.strip() or None,
    }
