"""The commits of a run: everything changed in its folder but what running code leaves
behind, as wfhub's author with hooks off; and what the run changed since it started."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wfhub.config import Settings
from wfhub.workspace.git import Git
from wfhub.workspace.service import author

# What running code leaves behind is not the agent's change: never committed, even in a
# repository without a .gitignore of its own.
GENERATED = (
    "__pycache__/\n*.py[cod]\n.pytest_cache/\n.mypy_cache/\n.ruff_cache/\nnode_modules/\n"
    ".aider*\n"  # Aider's repository-map cache
)


def is_repository(root: Path) -> bool:
    return (root / ".git").exists()  # a folder, or a worktree's file


async def head(root: Path) -> str | None:
    """The commit checked out in `root`, or None (not a repository, or no commit yet)."""
    if not is_repository(root):
        return None
    found = await Git(root).run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return found.text.strip() or None


async def commit_all(settings: Settings, root: Path, message: str) -> tuple[str | None, list[str]]:
    """Commit every change in `root`; (the new commit, its files), or (None, []) when there
    was nothing to commit."""
    git = Git(root, author=author(settings))
    excludes = settings.home_dir / "agent-excludes"
    await asyncio.to_thread(excludes.write_text, GENERATED)
    await git.run("-c", f"core.excludesFile={excludes}", "add", "--all")
    names = (await git.run("diff", "--cached", "--name-only", "-z")).text.split("\0")
    changed = [name for name in names if name]
    if not changed:
        return None, []
    await git.run("commit", "--no-verify", "--no-gpg-sign", "--file=-", input=message.encode())
    return await head(root), changed


async def changed_since(root: Path, base: str | None) -> list[str]:
    """Files that differ between `base` and the checked-out commit; with no base (the run
    made the repository's first commit), every file the history has."""
    git = Git(root)
    start = base or (await git.run("hash-object", "-t", "tree", "/dev/null")).text.strip()
    names = await git.run("diff", "--name-only", "-z", start, "HEAD", "--")
    return [name for name in names.text.split("\0") if name]
