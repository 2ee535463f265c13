"""Commands that run on the server's machine: serve, db, token, doctor."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import sys
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from wfhub import __version__
from wfhub.cli import setup
from wfhub.config import Settings, is_loopback_host, mask_url
from wfhub.db import Database, create_engine
from wfhub.engines.install import ENGINES, installed, venv_of
from wfhub.migrations import current_revision, head_revision
from wfhub.ops.logs import configure_logging, file_handler
from wfhub.ops.supervisor import ChildSupervisor
from wfhub.sandbox.policy import Sandbox, SandboxMode

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(
    help="wfhub: Workflow Hub for AI coding agents on local LLMs.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with command-line overrides; exits on bad values."""
    try:
        settings = Settings()
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    except (ValidationError, ValueError) as exc:
        err.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (WFHUB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (WFHUB_PORT).")] = None,
) -> None:
    """Migrate the database, make sure a token exists, and start the API server."""
    settings = _server_settings(host=host, port=port)
    from wfhub.app import create_app

    configure_logging(settings, "main-api")
    console.print(f"wfhub {__version__} on {settings.base_url}  (token: `wfhub token`)")
    model_server = _embedded_model_server(settings)
    try:
        _run_server(create_app(settings, model_supervisor=model_server), settings, settings.port)
    finally:
        if model_server is not None:
            model_server.stop()


@app.command("agent-api")
def agent_api(
    host: Annotated[str | None, typer.Option(help="Bind address (WFHUB_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (WFHUB_AGENT_API_PORT).")
    ] = None,
) -> None:
    """Start the agent API as its own process: the routes `wfhub serve` has under `/agent`,
    at the root, with a worker pool of its own; models are called through the hub."""
    settings = _server_settings(host=host, agent_api_port=port)
    from wfhub.agent.app import create_agent_app

    configure_logging(settings, "agent-api")
    url = settings.base_url.rsplit(":", 1)[0] + f":{settings.agent_api_port}"
    console.print(f"wfhub agent API {__version__} on {url}, models through {settings.hub_base_url}")
    _run_server(create_agent_app(settings), settings, settings.agent_api_port)


def _server_settings(**overrides: object) -> Settings:
    """Settings for a process that serves HTTP, once its database and token are ready."""
    settings = load_settings(**overrides)
    if settings.auth_disabled and not is_loopback_host(settings.host):
        err.print(
            f"[red]refusing to start:[/red] auth is disabled (WFHUB_AUTH_DISABLED) and "
            f"{settings.host} is not a loopback address; enable auth or bind 127.0.0.1"
        )
        raise typer.Exit(2)
    setup.initialise(settings)
    return settings


def _run_server(application: FastAPI, settings: Settings, port: int) -> None:
    uvicorn.run(
        application,
        host=settings.host,
        port=port,
        log_config=None,  # our handlers: JSON lines in logs/<service>.log, text on stderr
        proxy_headers=True,
        server_header=False,
    )


def _embedded_model_server(settings: Settings) -> ChildSupervisor | None:
    """Start `wfhub llm serve` as a supervised child unless Ollama hosts are configured."""
    if settings.ollama_urls:
        return None
    env = {k: v for k, v in os.environ.items()}
    env["WFHUB_HOME"] = str(settings.home_dir)
    command = [
        sys.executable, "-m", "wfhub", "llm", "serve",
        "--port", str(settings.llm_port), "--exit-with", str(os.getpid()),
    ]  # fmt: skip
    supervisor = ChildSupervisor(
        command,
        env,
        file_handler(settings, "model-server"),
        f"http://127.0.0.1:{settings.llm_port}/api/version",
        settings.model_health_interval_seconds,
    )
    supervisor.start()
    console.print(f"embedded model server on http://127.0.0.1:{settings.llm_port}")
    return supervisor


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run repeatedly)."""
    settings = load_settings()
    setup.initialise(settings)
    console.print(
        f"database at revision {head_revision()}: {mask_url(settings.resolved_database_url)}"
    )


@app.command()
def token(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the token; old one stops working.")
    ] = False,
) -> None:
    """Print the API token (created on first use) for this WFHUB_HOME."""
    settings = load_settings()
    value = setup.rotate(settings) if rotate else setup.initialise(settings)
    console.print(f"API token: {value}", soft_wrap=True, highlight=False)


@app.command("ssh-key")
def ssh_key() -> None:
    """Print wfhub's SSH public key (made on first use) for the model host's authorized_keys."""
    from wfhub.ops.ssh import ensure_key

    settings = load_settings()
    _, public = ensure_key(settings)
    console.print(public, soft_wrap=True, highlight=False)


async def _db_state(settings: Settings) -> tuple[bool, str]:
    database = Database(create_engine(settings.resolved_database_url))
    try:
        revision = await current_revision(database.engine)
    except Exception as exc:  # doctor reports any failure as text
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        await database.dispose()
    head = head_revision()
    if revision != head:
        return False, f"at revision {revision}, head is {head}: run `wfhub db upgrade`"
    return True, f"at head ({head})"


@app.command()
def doctor() -> None:
    """Print the effective configuration (secrets masked) and check each dependency."""
    settings = load_settings()
    config = Table("setting", "value", title="configuration")
    for name in Settings.model_fields:
        value = getattr(settings, name)
        shown = "***" if "secret" in type(value).__name__.lower() else value
        if name == "database_url":
            shown = mask_url(settings.resolved_database_url)
        config.add_row(name, str(shown))
    config.add_row("workspaces (resolved)", str(settings.workspaces_dir))
    console.print(config)

    checks = Table("check", "ok", "detail", title="dependencies")
    ok_db, detail_db = asyncio.run(_db_state(settings))
    checks.add_row("database", _mark(ok_db), detail_db)
    checks.add_row("python", _mark(sys.version_info >= (3, 11)), sys.version.split()[0])
    for tool in ("git", "bwrap", "rg"):
        path = shutil.which(tool)
        checks.add_row(tool, _mark(path is not None), path or "not installed")
    sandbox = Sandbox.from_settings(settings)
    checks.add_row("sandbox", _mark(sandbox.mode is SandboxMode.bwrap), sandbox.describe())
    checks.add_row("token", _mark(settings.token_file.exists()), str(settings.token_file))
    for method, ok, detail in _restart_checks(settings):
        checks.add_row(f"restart {method}", _mark(ok), detail)
    for module in ("psycopg", "aiosqlite"):
        found = importlib.util.find_spec(module) is not None
        checks.add_row(f"driver {module}", _mark(found), "installed" if found else "missing")
    for engine in ENGINES.values():
        ready = installed(settings, engine)
        where = str(venv_of(settings, engine))
        detail = where if ready else f"optional: `wfhub engines install {engine.name}`"
        checks.add_row(f"engine {engine.name}", _mark(ready), detail)
    console.print(checks)
    if not ok_db:
        raise typer.Exit(1)


def _restart_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """Whether each enabled restart method can be used, as `wfhub doctor` rows."""
    rows = []
    for method in settings.restart_methods:
        if method == "local":
            embedded = not settings.ollama_urls
            rows.append((method, embedded, "embedded server" if embedded else "Ollama hosts set"))
        elif method == "ssh" and settings.ssh_host:
            key = settings.ssh_dir / "id_ed25519"
            made = "key made" if key.exists() else "key made on first use (`wfhub ssh-key`)"
            target = f"{settings.ssh_user}@{settings.ssh_host}:{settings.ssh_port}"
            rows.append((method, True, f"{target}, {made}"))
        elif method == "container" and settings.docker_socket:
            present = settings.docker_socket.exists()
            rows.append(
                (method, present, f"{settings.docker_socket} ({settings.ollama_container})")
            )
        else:
            rows.append((method, False, "not configured"))
    return rows


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"
