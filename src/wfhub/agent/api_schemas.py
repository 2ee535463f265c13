"""Bodies of the agent API (the original `aider-api` role)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wfhub.runs.schemas import WorkspaceFiles
from wfhub.schemas import StrictModel

WorkspaceName = Field(min_length=1, max_length=500, description="A project's workspace_path.")
FilePath = Field(min_length=1, max_length=4096)


class AgentRun(StrictModel):
    task: str = Field(min_length=1, max_length=20_000, description="What the agent should do.")
    workspace: str = WorkspaceName
    files: WorkspaceFiles = Field(default_factory=list, max_length=50)
    model: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\s]+$")
    engine: Literal["native", "aider"] = "native"


class AgentRunStarted(StrictModel):
    run_id: int
    task_id: int
    status: str


class InWorkspace(StrictModel):
    workspace: str = WorkspaceName


class GrepRequest(InWorkspace):
    pattern: str = Field(min_length=1, max_length=1000)
    regex: bool = False
    glob: str | None = Field(default=None, max_length=500)


class GlobRequest(InWorkspace):
    pattern: str = Field(min_length=1, max_length=500)


class BashRequest(InWorkspace):
    command: str = Field(min_length=1, max_length=20_000)


class ReadRequest(InWorkspace):
    path: str = FilePath
    start_line: int | None = Field(default=None, ge=1, le=10_000_000)
    end_line: int | None = Field(default=None, ge=1, le=10_000_000)


class WriteRequest(InWorkspace):
    path: str = FilePath
    content: str = Field(max_length=10_000_000)


class ToolOutput(StrictModel):
    ok: bool
    output: str


class ModelSwitch(StrictModel):
    model: str = Field(min_length=1, max_length=200, pattern=r"^[^\s]+$")


class AgentConfig(StrictModel):
    model: str
    max_iterations: int
    max_tokens: int
    timeout_seconds: float
    command_seconds: float
    constrained_calls: bool
    run_concurrency: int
    sandbox: str
