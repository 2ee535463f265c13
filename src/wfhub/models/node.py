"""A workflow node: one step a task can be run through (agent, tool or condition)."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wfhub.models.base import Base, JSONType, Timestamped, enum_column


class NodeType(enum.StrEnum):
    agent = "agent"
    tool = "tool"
    condition = "condition"


class TaskNode(Timestamped, Base):
    __tablename__ = "task_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    node_type: Mapped[NodeType] = mapped_column(enum_column(NodeType, "node_type"))
    description: Mapped[str] = mapped_column(Text, default="")
    agent_prompt: Mapped[str] = mapped_column(Text, default="")
    command: Mapped[str] = mapped_column(Text, default="")
    condition: Mapped[str] = mapped_column(Text, default="")
    pre_hooks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    post_hooks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    routing_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    max_iterations: Mapped[int] = mapped_column(default=10)
    model: Mapped[str | None] = mapped_column(String(200))
