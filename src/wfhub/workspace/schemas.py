"""Request bodies and query types of the workspace API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import Field

from wfhub.schemas import LongText, RefId, StrictModel

WorkspacePath = Annotated[
    str,
    Query(max_length=4096, description="Path relative to the workspace root (`` for the root)."),
]
FilePath = Annotated[
    str, Query(min_length=1, max_length=4096, description="Path of a file in the workspace.")
]
OptionalPath = Annotated[
    str | None, Query(max_length=4096, description="Limit to this path (relative).")
]
RevQuery = Annotated[str | None, Query(max_length=200, description="A revision (branch, sha).")]
PathList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=4096)]], Field(min_length=1, max_length=1000)
]


class WorkspaceSetup(StrictModel):
    action: Literal["create", "init", "clone"] = Field(
        description="`create` an empty folder, `init` a git repository, or `clone` `source`."
    )
    source: str | None = Field(
        default=None, max_length=2000, description="Repository URL or absolute local path."
    )


class FileWrite(StrictModel):
    content: str = Field(max_length=50_000_000, description="New content (UTF-8 text).")
    version: str | None = Field(
        default=None, max_length=100, description="The version you read; stale writes get 409."
    )


class MoveRequest(StrictModel):
    source: str = Field(alias="from", min_length=1, max_length=4096)
    target: str = Field(alias="to", min_length=1, max_length=4096)
    overwrite: bool = False


class PathsRequest(StrictModel):
    paths: PathList


class CommitRequest(StrictModel):
    message: LongText = Field(min_length=1)
    all: bool = Field(default=False, description="Stage every change first (`git add --all`).")


class BranchCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    start: str | None = Field(default=None, max_length=200)
    checkout: bool = False


class CheckoutRequest(StrictModel):
    ref: str = Field(min_length=1, max_length=200)


class StashRequest(StrictModel):
    action: Literal["push", "pop", "apply", "drop"]
    message: str | None = Field(default=None, max_length=1000)
    index: int = Field(default=0, ge=0, le=10_000)


class RemoteCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=2000)


class SyncRequest(StrictModel):
    remote: str = Field(default="origin", min_length=1, max_length=64)
    branch: str | None = Field(default=None, max_length=200)


class WorktreeCreate(StrictModel):
    task_id: RefId
    branch: str | None = Field(default=None, max_length=200, description="Default wfhub/task-<id>.")
    start: str | None = Field(default=None, max_length=200)
