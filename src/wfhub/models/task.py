"""A task and what hangs off it: comments, acceptance criteria, attachments."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from wfhub.models.base import Base, Timestamped, enum_column, utcnow


class TaskStatus(enum.StrEnum):
    pending = "pending"
    in_progress = "in_progress"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class Task(Timestamped, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_project_parent_position", "project_id", "parent_id", "position"),
        Index("ix_tasks_project_status", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("task_nodes.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TaskStatus] = mapped_column(
        enum_column(TaskStatus, "task_status"), default=TaskStatus.pending
    )
    depth: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    priority: Mapped[int] = mapped_column(default=0)


class TaskComment(Timestamped, Base):
    __tablename__ = "task_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200), default="user")
    body: Mapped[str] = mapped_column(Text)


class TaskAcceptanceCriterion(Timestamped, Base):
    __tablename__ = "task_acceptance_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    passed: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)


class TaskAttachment(Base):
    __tablename__ = "task_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
