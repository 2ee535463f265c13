"""Settings, read from the environment (`WFHUB_` prefix) and a `.env` file.

Every field here is documented in the README's configuration table; `tests/test_docs.py` fails
when one is not.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_HOME = Path(".wfhub")
RESTART_METHODS = ("local", "ssh", "container")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback_host(host: str) -> bool:
    """True when binding `host` exposes the server to this machine only."""
    name = host.strip("[]")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """wfhub's configuration. Field names map to `WFHUB_<NAME>` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="WFHUB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=DEFAULT_HOME, description="Data directory (database, token, files).")
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "WFHUB_DATABASE_URL"),
        description="SQLAlchemy URL; SQLite file in the data dir when unset.",
    )
    host: str = Field(default="127.0.0.1", description="Address `wfhub serve` binds.")
    port: int = Field(default=8002, ge=1, le=65535, description="Port `wfhub serve` binds.")
    workspaces: Path | None = Field(
        default=None, description="Root of project workspaces; `$WFHUB_HOME/workspaces` if unset."
    )
    allowed_hosts: CsvList = Field(
        default_factory=list,
        description="Extra Host header names accepted besides loopback names and *.localhost.",
    )
    allowed_origins: CsvList = Field(
        default_factory=list,
        description="Extra browser origins (scheme://host[:port]) accepted for cookies/WebSockets.",
    )
    auth_disabled: bool = Field(
        default=False, description="Turn token auth off; refused on a non-loopback bind."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Cap on JSON request bodies (413 above)."
    )
    max_attachment_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Cap on one uploaded attachment."
    )
    session_ttl_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, description="Lifetime of a browser login session."
    )
    ollama_urls: CsvList = Field(
        default_factory=list,
        description="Ollama hosts (comma-separated); the embedded model server when empty.",
    )
    llm_port: int = Field(
        default=11435, ge=1, le=65535, description="Port of the embedded model server."
    )
    openai_urls: CsvList = Field(
        default_factory=list,
        description="OpenAI-compatible servers (comma-separated) the gateway also routes to.",
    )
    default_model: str = Field(
        default="qwen2.5-coder:1.5b", min_length=1, description="Model agents use by default."
    )
    llm_model_path: Path | None = Field(
        default=None,
        description="A GGUF file the embedded server serves besides the installed models.",
    )
    llm_context: int = Field(
        default=8192, ge=256, le=1_048_576, description="Context length (tokens) per request slot."
    )
    llm_parallel: int = Field(
        default=2, ge=1, le=64, description="Requests the embedded server generates at once."
    )
    llm_threads: int = Field(
        default=0, ge=0, le=1024, description="CPU threads for generation; 0 uses every core."
    )
    llm_keep_alive: str = Field(
        default="5m",
        description="How long an idle model stays loaded (Ollama duration; -1 = always).",
    )
    gateway_max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Cap on a request body through the gateway."
    )
    gateway_allow_admin: bool = Field(
        default=False, description="Let pull/push/create/copy/delete/blobs through the gateway."
    )
    gateway_timeout_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait for an upstream's next bytes (then 504)."
    )
    agent_api_url: str | None = Field(
        default=None, description="URL of a separate agent API (`wfhub agent-api`) to health-check."
    )
    log_level: str = Field(default="info", description="Log level of `wfhub serve`.")
    git_author_name: str = Field(
        default="wfhub", min_length=1, description="Author name of commits made through wfhub."
    )
    git_author_email: str = Field(
        default="wfhub@localhost", min_length=3, description="Author email of those commits."
    )
    read_max_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest file (or range) returned as text."
    )
    search_engine: Literal["auto", "rg", "python"] = Field(
        default="auto", description="Content search: ripgrep when installed (auto), or one of them."
    )
    allow_unsandboxed: bool = Field(
        default=False,
        description="Run agent commands and terminals without bubblewrap when it is missing.",
    )
    sandbox_read_only: CsvList = Field(
        default_factory=list,
        description="Extra host paths (comma-separated) sandboxed processes may read, e.g. a "
        "toolchain outside /usr and /opt.",
    )
    sandbox_memory_mb: int = Field(
        default=4096, ge=64, description="Address-space limit of one sandboxed process tree."
    )
    terminal_idle_seconds: int = Field(
        default=900, ge=5, description="A web terminal with no input for this long is closed."
    )
    terminal_max_open: int = Field(
        default=4, ge=1, le=64, description="Open web terminals allowed per user (API token)."
    )

    run_concurrency: int = Field(
        default=2, ge=1, le=64, description="Agent runs executed at once by this process."
    )
    run_resume: bool = Field(
        default=True,
        description="Resume runs a crash left running from their last checkpoint (else mark "
        "them interrupted).",
    )
    run_lease_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="A run whose process stops renewing its lease this long is taken over.",
    )
    agent_api_port: int = Field(
        default=8001, ge=1, le=65535, description="Port `wfhub agent-api` binds."
    )
    hub_url: str | None = Field(
        default=None,
        description="Where the CLI and `wfhub agent-api` reach the hub (its gateway included); "
        "WFHUB_HOST:WFHUB_PORT when unset.",
    )
    agent_max_iterations: int = Field(
        default=30,
        ge=1,
        le=500,
        description="Model calls one run may make (a node's "
        "max_iterations, when set, takes precedence).",
    )
    agent_max_tokens: int = Field(
        default=200_000, ge=100, description="Prompt plus completion tokens one run may use."
    )
    agent_timeout_seconds: float = Field(
        default=1800.0, gt=0, le=86400, description="Wall-clock limit of one run."
    )
    agent_command_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="Limit of one shell command an agent runs."
    )
    agent_constrained_calls: bool = Field(
        default=True,
        description="Constrain each reply of the agent's act step to one tool call with valid "
        "arguments (a JSON-schema grammar through Ollama's `format`): what makes small local "
        "models reliable; off lets a model reply freely and call several tools at once.",
    )
    engines: Path | None = Field(
        default=None,
        description="Where `wfhub engines install` puts agent engines (Aider's virtualenv); "
        "`$WFHUB_HOME/engines` if unset.",
    )
    restart_methods: CsvList = Field(
        default_factory=lambda: ["local", "ssh", "container"],
        description="Order in which POST /ollama/restart tries methods; unconfigured ones are "
        "skipped.",
    )
    restart_ready_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="How long a restart waits for the model "
        "server to answer a generation before the method counts as failed.",
    )
    restart_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long a gateway request waits for a restart in progress to finish.",
    )
    model_probe_seconds: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Deadline of the 1-token generation probe.",
    )
    model_health_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How often the supervisor checks the embedded "
        "model server answers; three misses in a row restart it.",
    )
    ssh_host: str | None = Field(
        default=None, description="Model host to restart over SSH (the first Ollama URL's host)."
    )
    ssh_port: int = Field(default=22, ge=1, le=65535, description="Its SSH port.")
    ssh_user: str = Field(default="root", min_length=1, description="SSH login on the host.")
    ssh_restart_command: str = Field(
        default="/usr/local/bin/wfhub-model-restart",
        min_length=1,
        description="Command run on the model host to restart its server (deploy/model-host).",
    )
    ssh_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Deadline for the SSH connection and command."
    )
    docker_socket: Path | None = Field(
        default=None, description="Docker Engine socket for container restarts and logs."
    )
    ollama_container: str = Field(
        default="ollama",
        min_length=1,
        max_length=128,
        description="Name or id of the model server's container.",
    )
    log_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=4096, description="Size at which a service log rotates."
    )
    log_backups: int = Field(
        default=5, ge=1, le=100, description="Rotated files kept per service log."
    )

    @field_validator(
        "allowed_hosts",
        "allowed_origins",
        "ollama_urls",
        "sandbox_read_only",
        "restart_methods",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("restart_methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RESTART_METHODS))
        if unknown or len(set(value)) != len(value):
            raise ValueError(
                f"restart_methods takes each of {', '.join(RESTART_METHODS)} at most once"
            )
        return value

    @field_validator("llm_keep_alive")
    @classmethod
    def _keep_alive(cls, value: str) -> str:
        from wfhub.llm.durations import parse_duration

        parse_duration(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"critical", "error", "warning", "info", "debug"}:
            raise ValueError("log_level must be one of critical, error, warning, info, debug")
        return level

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @cached_property
    def workspaces_dir(self) -> Path:
        root = self.workspaces if self.workspaces is not None else self.home_dir / "workspaces"
        return root.expanduser().resolve()

    @property
    def attachments_dir(self) -> Path:
        return self.home_dir / "attachments"

    @cached_property
    def engines_dir(self) -> Path:
        root = self.engines if self.engines is not None else self.home_dir / "engines"
        return root.expanduser().resolve()

    @property
    def worktrees_dir(self) -> Path:
        return self.home_dir / "worktrees"

    @property
    def models_dir(self) -> Path:
        return self.home_dir / "models"

    @property
    def logs_dir(self) -> Path:
        return self.home_dir / "logs"

    @property
    def ssh_dir(self) -> Path:
        return self.home_dir / "ssh"

    @property
    def token_file(self) -> Path:
        return self.home_dir / "token"

    @property
    def secret_key_file(self) -> Path:
        return self.home_dir / "secret.key"

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: driver added, SQLite default in the data dir."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{self.home_dir / 'wfhub.db'}"
        return normalize_database_url(self.database_url.get_secret_value())

    @property
    def model_server_url(self) -> str:
        """First configured Ollama host, or the embedded server's address."""
        if self.ollama_urls:
            return self.ollama_urls[0].rstrip("/")
        return f"http://127.0.0.1:{self.llm_port}"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}"

    @property
    def hub_base_url(self) -> str:
        """The hub as a client on this machine reaches it (agents call models through its
        `/ollama/api/...`)."""
        local = self.base_url.replace("//0.0.0.0:", "//127.0.0.1:")
        return (self.hub_url or local).rstrip("/")


def normalize_database_url(url: str) -> str:
    """Map plain `postgresql://` / `sqlite://` URLs onto the async drivers wfhub uses."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://... or sqlite:///...")
    base = scheme.split("+", 1)[0]
    if base in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database scheme {scheme!r}: use postgresql or sqlite")


def mask_url(url: str) -> str:
    """The URL with any password replaced, for printing."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, location = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}" if ":" in creds else url
