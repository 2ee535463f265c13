"""API shapes of the ledger (`/llm/requests`, `/llm/usage`) and `/ollama/models`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from wfhub.schemas import ReadModel

GroupBy = Literal["model", "day", "project", "task", "run"]


class LlmRequestRead(ReadModel):
    id: int
    created_at: datetime
    backend: str
    model: str
    endpoint: str
    status: int
    outcome: str
    stream: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    load_ms: float | None
    prompt_ms: float | None
    eval_ms: float | None
    total_ms: float
    ttfb_ms: float | None
    request_bytes: int
    response_bytes: int
    client: str
    project_id: int | None
    task_id: int | None
    run_id: int | None
    error: str | None


class LlmRequestPage(BaseModel):
    items: list[LlmRequestRead]
    next_before_id: int | None
    """Pass as `before_id` for the next (older) page; null on the last page."""


class UsageRow(BaseModel):
    key: str | int | None
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


class Usage(BaseModel):
    group_by: GroupBy
    rows: list[UsageRow]


class BackendModels(BaseModel):
    backend: str
    url: str
    kind: str
    healthy: bool
    error: str | None
    checked_at: float
    models: list[str]
    loaded: list[str]


class ModelsRead(BaseModel):
    default_model: str
    backends: list[BackendModels]
