"""A project: a named workspace folder under the workspaces root."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wfhub.models.base import Base, Timestamped, enum_column


class Environment(enum.StrEnum):
    local = "local"
    staging = "staging"
    prod = "prod"


class Project(Timestamped, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    workspace_path: Mapped[str] = mapped_column(String(1024), unique=True)
    environment: Mapped[Environment] = mapped_column(
        enum_column(Environment, "environment"), default=Environment.local
    )
    description: Mapped[str] = mapped_column(Text, default="")
    # Bumped by database triggers on any change to the project's tasks (migration 0005);
    # the task tree cache compares it. Never written by the application.
    tasks_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
