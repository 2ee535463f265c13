"""Request and response bodies of the operations routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ServiceStatus = Literal["healthy", "unhealthy", "down", "restarting"]


class ProbeRead(BaseModel):
    ok: bool
    model: str | None
    duration_ms: float = Field(description="How long the 1-token generation probe took.")
    detail: str


class SupervisorRead(BaseModel):
    state: str
    pid: int | None
    restarts: int = Field(description="Times the child was started again since wfhub started.")
    events: list[dict[str, Any]] = Field(
        description="Recent starts, exits, hangs and restarts, oldest first."
    )


class HostStatus(BaseModel):
    name: str
    url: str
    kind: str
    managed: bool = Field(description="The host `POST /ollama/restart` acts on.")
    service_status: ServiceStatus
    container_status: str | None
    models_available: list[str]
    models_loaded: list[str]
    probe: ProbeRead
    supervisor: SupervisorRead | None


class AttemptRead(BaseModel):
    method: str
    success: bool
    message: str
    duration_seconds: float


class RestartRead(BaseModel):
    success: bool
    method: str | None
    message: str
    duration_seconds: float
    attempts: list[AttemptRead]
    joined: bool = Field(description="True when this request joined a restart in progress.")


class OllamaStatus(BaseModel):
    """The original's shape (`container_status`, `service_status`, `models_loaded`) for the
    managed model server, then every host."""

    container_status: str
    service_status: ServiceStatus
    models_loaded: list[str]
    url: str
    restart_in_progress: bool
    restart_methods: list[str] = Field(description="Methods `POST /ollama/restart` would try.")
    last_restart: RestartRead | None
    hosts: list[HostStatus]


class RestartRequest(BaseModel):
    """Optional body; which host, command or container is used comes from the configuration
    only, so any other field is refused."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, description="Written to the log.")


class LogService(BaseModel):
    name: str
    kind: Literal["process", "container"]
    state: str
    pid: int | None
    size_bytes: int | None
    updated_at: str | None


class LogServices(BaseModel):
    services: list[LogService]


class LogLines(BaseModel):
    service: str
    lines: list[dict[str, Any]]
