"""`wfhub engines ...`: agent engines in their own virtualenvs (Aider)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wfhub.cli.server import console, err, load_settings
from wfhub.engines.install import ENGINES, InstallFailed, install, installed, venv_of

engines_app = typer.Typer(help="Agent engines besides the native one.", no_args_is_help=True)


@engines_app.command("install")
def install_engine(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(ENGINES)}.")],
) -> None:
    """Create the engine's own virtualenv with its pinned package (once; later calls check)."""
    engine = ENGINES.get(name)
    if engine is None:
        err.print(f"[red]unknown engine {name!r}[/red]; engines: {', '.join(ENGINES)}")
        raise typer.Exit(2)
    settings = load_settings()
    try:
        fresh = install(settings, engine)
    except (InstallFailed, OSError) as exc:
        err.print(f"[red]installing {name} failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    state = "installed" if fresh else "already installed"
    console.print(f"{engine.requirement} {state} in {venv_of(settings, engine)}")


@engines_app.command("list")
def list_engines() -> None:
    """Engines wfhub knows and whether each is installed here."""
    settings = load_settings()
    table = Table("engine", "package", "installed", "where")
    table.add_row("native", "wfhub", "yes", "in the wfhub process")
    for engine in ENGINES.values():
        mark = "yes" if installed(settings, engine) else "no"
        table.add_row(engine.name, engine.requirement, mark, str(venv_of(settings, engine)))
    console.print(table)
