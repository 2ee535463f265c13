"""Workspace git routes: status, diff, log, show, blame, branches, stage, commit, stash,
remotes, fetch/pull/push, task worktrees."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response

from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES, InvalidInput
from wfhub.schemas import IdPath
from wfhub.security.auth import AuthDep
from wfhub.workspace import git_changes, git_history
from wfhub.workspace.endpoints import BadgeCacheDep, Json, WorkspaceDep
from wfhub.workspace.git_status import BadgeCache, Entry, read_status
from wfhub.workspace.schemas import (
    BranchCreate,
    CheckoutRequest,
    CommitRequest,
    FilePath,
    OptionalPath,
    PathsRequest,
    RemoteCreate,
    RevQuery,
    StashRequest,
    SyncRequest,
    WorktreeCreate,
)
from wfhub.workspace.service import ProjectWorkspace, git_path, worktree_dir

router = APIRouter(
    prefix="/workspace/{project_id}",
    tags=["workspace git"],
    dependencies=[AuthDep],
    responses=ERROR_RESPONSES,
)


async def _repo(ws: ProjectWorkspace) -> ProjectWorkspace:
    # a stat: the git command that follows reports a broken repository itself
    if not await asyncio.to_thread(ws.git.has_git_dir):
        raise InvalidInput("the workspace is not a git repository (POST .../setup action=init)")
    return ws


def _entry(entry: Entry) -> Json:
    return {
        "path": entry.path,
        "index": entry.index,
        "worktree": entry.worktree,
        "status": entry.badge,
        "original_path": entry.original_path,
    }


@router.get("/git/status")
async def git_status(ws: WorkspaceDep, path: OptionalPath = None) -> Json:
    """Staged, unstaged, untracked and conflicted files; branch with ahead/behind."""
    status = await read_status((await _repo(ws)).git, path=git_path(path) if path else None)
    branch = status.branch
    return {
        "branch": branch.head,
        "head": branch.oid,
        "upstream": branch.upstream,
        "ahead": branch.ahead,
        "behind": branch.behind,
        "staged": [_entry(e) for e in status.staged],
        "unstaged": [_entry(e) for e in status.unstaged],
        "untracked": [e.path for e in status.of_kind("untracked")],
        "conflicted": [_entry(e) for e in status.of_kind("unmerged")],
        "clean": not status.entries,
    }


@router.get("/git/diff")
async def git_diff(
    ws: WorkspaceDep,
    staged: bool = False,
    base: RevQuery = None,
    head: RevQuery = None,
    path: OptionalPath = None,
    context: Annotated[int, Query(ge=0, le=100)] = 3,
) -> Json:
    """Working-tree, staged, or `base`..`head` diff; capped at 1 MB / 20,000 lines."""
    if head is not None and base is None:
        raise InvalidInput("head needs base")
    return await git_history.diff(
        (await _repo(ws)).git,
        staged=staged,
        base=base,
        head=head,
        path=git_path(path) if path else None,
        context=context,
    )


@router.get("/git/log")
async def git_log(
    ws: WorkspaceDep,
    ref: RevQuery = None,
    path: OptionalPath = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Json:
    """Commits, newest first, paged; optionally for one path."""
    git = (await _repo(ws)).git
    return await git_history.log(
        git, ref=ref, path=git_path(path) if path else None, limit=limit, offset=offset
    )


@router.get("/git/commits/{rev}")
async def git_show(ws: WorkspaceDep, rev: str) -> Json:
    """One commit with its (capped) patch."""
    return await git_history.show((await _repo(ws)).git, rev)


@router.get("/git/blame")
async def git_blame(ws: WorkspaceDep, path: FilePath, rev: RevQuery = None) -> Json:
    """The last commit that touched each line."""
    return await git_history.blame((await _repo(ws)).git, git_path(path), rev=rev)


@router.get("/git/branches")
async def list_branches(ws: WorkspaceDep) -> list[Json]:
    return await git_changes.branches((await _repo(ws)).git)


@router.post("/git/branches", status_code=201)
async def create_branch(body: BranchCreate, ws: WorkspaceDep, cache: BadgeCacheDep) -> list[Json]:
    """Create a branch (at `start`), optionally switching to it."""
    git = (await _repo(ws)).git
    await git_changes.create_branch(git, body.name, body.start, checkout=body.checkout)
    cache.invalidate(ws.root)
    return await git_changes.branches(git)


@router.delete("/git/branches/{name:path}", status_code=204)
async def delete_branch(ws: WorkspaceDep, name: str, force: bool = False) -> Response:
    await git_changes.delete_branch((await _repo(ws)).git, name, force=force)
    return Response(status_code=204)


@router.post("/git/checkout")
async def checkout(body: CheckoutRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> list[Json]:
    """Switch to a branch (or detach at another revision)."""
    git = (await _repo(ws)).git
    await git_changes.checkout(git, body.ref)
    cache.invalidate(ws.root)
    return await git_changes.branches(git)


@router.post("/git/stage", status_code=204)
async def stage(body: PathsRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Response:
    await git_changes.stage((await _repo(ws)).git, [git_path(p) for p in body.paths])
    cache.invalidate(ws.root)
    return Response(status_code=204)


@router.post("/git/unstage", status_code=204)
async def unstage(body: PathsRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Response:
    await git_changes.unstage((await _repo(ws)).git, [git_path(p) for p in body.paths])
    cache.invalidate(ws.root)
    return Response(status_code=204)


@router.post("/git/commit", status_code=201)
async def commit(body: CommitRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Json:
    """Commit the staged changes (or all, with `all`); author from the settings."""
    result = await git_changes.commit((await _repo(ws)).git, body.message, all_changes=body.all)
    cache.invalidate(ws.root)
    return result


@router.get("/git/stash")
async def list_stash(ws: WorkspaceDep) -> list[dict[str, str]]:
    return await git_changes.stash_list((await _repo(ws)).git)


@router.post("/git/stash", status_code=204)
async def stash(body: StashRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Response:
    """push (with untracked files), pop, apply or drop `stash@{index}`."""
    await git_changes.stash(
        (await _repo(ws)).git, body.action, message=body.message, index=body.index
    )
    cache.invalidate(ws.root)
    return Response(status_code=204)


@router.get("/git/remotes")
async def list_remotes(ws: WorkspaceDep) -> list[dict[str, str]]:
    return await git_changes.remotes((await _repo(ws)).git)


@router.post("/git/remotes", status_code=201)
async def add_remote(body: RemoteCreate, ws: WorkspaceDep) -> list[dict[str, str]]:
    git = (await _repo(ws)).git
    await git_changes.add_remote(git, body.name, body.url)
    return await git_changes.remotes(git)


async def _sync(action: str, body: SyncRequest, ws: ProjectWorkspace, cache: BadgeCache) -> Json:
    result = await git_changes.sync((await _repo(ws)).git, action, body.remote, body.branch)
    cache.invalidate(ws.root)
    return result


@router.post("/git/fetch")
async def fetch(body: SyncRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Json:
    """git fetch from a remote."""
    return await _sync("fetch", body, ws, cache)


@router.post("/git/pull")
async def pull(body: SyncRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Json:
    """git pull (merge); conflicts come back in `conflicts` with `ok: false`."""
    return await _sync("pull", body, ws, cache)


@router.post("/git/push")
async def push(body: SyncRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Json:
    """git push to a remote."""
    return await _sync("push", body, ws, cache)


@router.get("/worktrees")
async def list_worktrees(ws: WorkspaceDep) -> list[Json]:
    return await git_changes.worktrees((await _repo(ws)).git)


@router.post("/worktrees", status_code=201)
async def add_worktree(body: WorktreeCreate, ws: WorkspaceDep, settings: SettingsDep) -> Json:
    """A git worktree for one task, on its own branch, outside the workspace folder."""
    git = (await _repo(ws)).git
    target = worktree_dir(settings, ws.project_id, body.task_id)
    branch = body.branch or f"wfhub/task-{body.task_id}"
    return await git_changes.add_worktree(git, target, branch, body.start)


@router.delete("/worktrees/{task_id}", status_code=204)
async def remove_worktree(
    ws: WorkspaceDep, settings: SettingsDep, task_id: IdPath, force: bool = False
) -> Response:
    target = worktree_dir(settings, ws.project_id, task_id)
    await git_changes.remove_worktree((await _repo(ws)).git, target, force=force)
    return Response(status_code=204)
