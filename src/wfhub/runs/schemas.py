"""Request and response bodies of the run routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from wfhub.errors import WfhubError
from wfhub.models.run import RunStatus
from wfhub.schemas import INT32_MAX, ReadModel, RefId, StrictModel
from wfhub.workspace.paths import split_path

EventType = Literal["status", "message", "tool_call", "tool_result", "log", "error"]


def _relative_paths(value: list[str]) -> list[str]:
    cleaned = []
    for path in value:
        try:
            parts = split_path(path)
        except WfhubError as exc:
            raise ValueError(exc.detail) from exc
        if not parts:
            raise ValueError("a file path may not be empty or the workspace root")
        cleaned.append("/".join(parts))
    return cleaned


# Paths inside a workspace, normalised (`a//b/./c` -> `a/b/c`); `..` and absolute refused.
WorkspaceFiles = Annotated[list[str], AfterValidator(_relative_paths)]


class RunOptions(StrictModel):
    max_iterations: int | None = Field(default=None, ge=1, le=500)
    max_tokens: int | None = Field(default=None, ge=100, le=10_000_000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)
    check_command: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Shell command (sandboxed) that must pass before the run succeeds, e.g. "
        "`pytest -q`; its failure goes back to the agent.",
    )
    worktree: bool = Field(
        default=True, description="Work in a git worktree on the run's own branch."
    )
    constrained_calls: bool | None = Field(
        default=None,
        description="Constrain each agent reply to one tool call (WFHUB_AGENT_CONSTRAINED_CALLS "
        "when unset).",
    )
    files: WorkspaceFiles = Field(
        default_factory=list,
        max_length=50,
        description="Workspace paths to start from (Aider adds them to its chat).",
    )


class RunCreate(StrictModel):
    engine: Literal["native", "aider"] = Field(
        default="native",
        description="`aider` drives Aider in its own process (`wfhub engines install aider`).",
    )
    model: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\s]+$")
    node_id: RefId | None = None
    options: RunOptions = Field(default_factory=RunOptions)


class RunRead(ReadModel):
    id: int
    task_id: int
    node_id: int | None
    status: RunStatus
    engine: str
    model: str | None
    summary: str
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    options: dict[str, Any]
    branch: str | None
    base_sha: str | None
    commit_sha: str | None
    changed_files: list[str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str | None = Field(
        description="The process executing (or last executing) the run: host:pid:id."
    )


class RunSummary(RunRead):
    llm_requests: int = Field(description="Gateway requests of this run (from the ledger).")
    llm_seconds: float = Field(description="Time spent waiting on the model (from the ledger).")
    events: int


class RunEventRead(ReadModel):
    seq: int = Field(ge=1, le=INT32_MAX)
    type: str
    payload: dict[str, Any]
    created_at: datetime
