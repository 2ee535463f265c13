from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from wfhub.models import TaskStatus
from wfhub.schemas import (
    BoundedInt,
    LongText,
    Name,
    Position,
    ReadModel,
    RefId,
    StrictModel,
    Title,
)

NonEmptyText = Annotated[LongText, Field(min_length=1)]


class SubtaskCreate(StrictModel):
    title: Title
    description: LongText = ""
    status: TaskStatus = TaskStatus.pending
    priority: BoundedInt = 0
    node_id: RefId | None = Field(default=None, description="Workflow node to run it through.")
    position: Position | None = Field(default=None, description="Defaults to after siblings.")


class TaskCreate(SubtaskCreate):
    parent_id: RefId | None = Field(default=None, description="Parent task (same project).")


class TaskUpdate(StrictModel):
    """PATCH body: only the fields sent change; `parent_id: null` moves the task to the top."""

    title: Title | None = None
    description: LongText | None = None
    status: TaskStatus | None = None
    priority: BoundedInt | None = None
    node_id: RefId | None = None
    position: Position | None = None
    parent_id: RefId | None = None


class TaskRead(ReadModel):
    id: int
    project_id: int
    parent_id: int | None
    node_id: int | None
    title: str
    description: str
    status: TaskStatus
    depth: int
    position: int
    priority: int
    created_at: datetime
    updated_at: datetime


class TaskTree(TaskRead):
    children: list[TaskTree] = Field(default_factory=list)


class CommentCreate(StrictModel):
    body: NonEmptyText
    author: Name = "user"


class CommentUpdate(StrictModel):
    body: NonEmptyText


class CommentRead(ReadModel):
    id: int
    task_id: int
    author: str
    body: str
    created_at: datetime
    updated_at: datetime


class CriterionCreate(StrictModel):
    description: NonEmptyText
    passed: bool = False


class CriterionUpdate(StrictModel):
    description: NonEmptyText | None = None
    passed: bool | None = None


class CriterionRead(ReadModel):
    id: int
    task_id: int
    description: str
    passed: bool
    position: int
    created_at: datetime
    updated_at: datetime


class AttachmentRead(ReadModel):
    id: int
    task_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
