"""Request and response bodies of the run routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from wfhub.models.run import RunStatus
from wfhub.schemas import INT32_MAX, ReadModel, RefId, StrictModel

EventType = Literal["status", "message", "tool_call", "tool_result", "log", "error"]


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


class RunCreate(StrictModel):
    engine: Literal["native"] = "native"
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
