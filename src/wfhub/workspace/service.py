"""From a project to its workspace: the confined file view, git, and the badge cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.config import Settings
from wfhub.projects import service as projects
from wfhub.workspace import lifecycle
from wfhub.workspace.git import Author, Git
from wfhub.workspace.paths import Workspace, join, split_path


@dataclass(frozen=True)
class ProjectWorkspace:
    project_id: int
    files: Workspace
    git: Git

    @property
    def root(self) -> Path:
        return self.files.root


def author(settings: Settings) -> Author:
    return Author(settings.git_author_name, settings.git_author_email)


def root_of(settings: Settings, workspace_path: str) -> Path:
    """The folder of a project's workspace under the workspaces root."""
    return settings.workspaces_dir.joinpath(*split_path(workspace_path))


async def open_workspace(
    session: AsyncSession, settings: Settings, project_id: int
) -> ProjectWorkspace:
    """The project's workspace (NotFound for an unknown project)."""
    project = await projects.get(session, project_id)
    root = root_of(settings, project.workspace_path)
    return ProjectWorkspace(project_id, Workspace(root), Git(root, author=author(settings)))


async def prepare(settings: Settings, workspace_path: str, *, init_git: bool) -> None:
    """Create a workspace folder (and `git init` it); refused if it exists with content."""
    root = root_of(settings, workspace_path)
    await lifecycle.create(root, init_git=init_git, git=Git(root, author=author(settings)))


def git_path(path: str) -> str:
    """A path argument for git, confined like every other (git reads it literally)."""
    return join(split_path(path)) or "."


def worktree_dir(settings: Settings, project_id: int, task_id: int) -> Path:
    return settings.worktrees_dir / f"project-{project_id}" / f"task-{task_id}"
