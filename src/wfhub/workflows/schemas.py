from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from wfhub.models import NodeType
from wfhub.schemas import LongText, Name, ReadModel, StrictModel

NodeName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Lower-case slug, referenced by routing.",
    ),
]
Hooks = Annotated[list[LongText], Field(max_length=20, description="Shell commands.")]


class Routing(StrictModel):
    on_pass: NodeName | None = Field(default=None, description="Next node after a pass.")
    on_fail: NodeName | None = Field(default=None, description="Next node after a fail.")


class NodeFields(StrictModel):
    node_type: NodeType
    description: LongText = ""
    agent_prompt: LongText = ""
    command: LongText = ""
    condition: LongText = ""
    pre_hooks: Hooks = Field(default_factory=list)
    post_hooks: Hooks = Field(default_factory=list)
    routing_config: Routing = Field(default_factory=Routing)
    max_iterations: int = Field(default=10, ge=1, le=1000)
    model: Name | None = None

    @model_validator(mode="after")
    def _needs_its_body(self) -> NodeFields:
        required = {
            NodeType.agent: ("agent_prompt", self.agent_prompt),
            NodeType.tool: ("command", self.command),
            NodeType.condition: ("condition", self.condition),
        }
        field, value = required[self.node_type]
        if not value.strip():
            raise ValueError(f"a {self.node_type.value} node needs a non-empty {field}")
        return self


class NodeCreate(NodeFields):
    name: NodeName


class NodeUpdate(StrictModel):
    name: NodeName | None = None
    node_type: NodeType | None = None
    description: LongText | None = None
    agent_prompt: LongText | None = None
    command: LongText | None = None
    condition: LongText | None = None
    pre_hooks: Hooks | None = None
    post_hooks: Hooks | None = None
    routing_config: Routing | None = None
    max_iterations: int | None = Field(default=None, ge=1, le=1000)
    model: Name | None = None


class NodeRead(ReadModel):
    id: int
    name: str
    node_type: NodeType
    description: str
    agent_prompt: str
    command: str
    condition: str
    pre_hooks: list[str]
    post_hooks: list[str]
    routing_config: dict[str, Any]
    max_iterations: int
    model: str | None
    created_at: datetime
    updated_at: datetime
