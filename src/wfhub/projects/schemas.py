from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from wfhub.models import Environment
from wfhub.schemas import LongText, Name, ReadModel, StrictModel


def _relative_workspace(value: str) -> str:
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be a plain relative path (no backslashes or control characters)")
    path = PurePosixPath(value)
    if path.is_absolute():
        raise ValueError("must be relative to the workspaces root")
    if any(part in {"", ".", ".."} for part in value.strip("/").split("/")):
        raise ValueError("must not contain '.', '..' or empty segments")
    return str(path)


WorkspacePath = Annotated[
    str,
    Field(min_length=1, max_length=1024, description="Folder relative to the workspaces root."),
    AfterValidator(_relative_workspace),
]


class ProjectCreate(StrictModel):
    name: Name
    workspace_path: WorkspacePath | None = Field(
        default=None, description="Defaults to a slug of the name."
    )
    environment: Environment = Environment.local
    description: LongText = ""


class ProjectCreateRequest(ProjectCreate):
    """POST /projects: a project, and optionally its workspace folder made at the same time."""

    workspace: Literal["none", "create", "init"] = Field(
        default="none",
        description="`create` the workspace folder or `init` a git repository in it; "
        "a clone has its own progress stream: POST /workspace/{id}/setup.",
    )


class ProjectUpdate(StrictModel):
    name: Name | None = None
    workspace_path: WorkspacePath | None = None
    environment: Environment | None = None
    description: LongText | None = None


class ProjectRead(ReadModel):
    id: int
    name: str
    workspace_path: str
    environment: Environment
    description: str
    created_at: datetime
    updated_at: datetime
