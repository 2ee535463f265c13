"""`wfhub run TASK_ID [--follow]`: start an agent run and watch its events live."""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any

import httpx
import typer

from wfhub.cli.client import Api, UrlOption, console, err

FINISHED = {"succeeded", "failed", "cancelled", "interrupted"}


class Engine(enum.StrEnum):
    native = "native"
    aider = "aider"


def _show(kind: str, data: dict[str, Any]) -> None:
    if kind == "status":
        detail = data.get("error") or data.get("summary") or ""
        console.print(f"[bold]{data.get('status')}[/bold] {detail}".rstrip(), highlight=False)
    elif kind == "message":
        if data.get("content"):
            console.print(f"[cyan]model:[/cyan] {data['content']}", highlight=False)
    elif kind == "tool_call":
        console.print(
            f"[yellow]→ {data['name']}[/yellow] {json.dumps(data['arguments'])[:300]}",
            highlight=False,
        )
    elif kind == "tool_result":
        mark = "[green]ok[/green]" if data.get("ok") else "[red]error[/red]"
        first = str(data.get("output", "")).splitlines()[:3]
        console.print(f"  {mark} " + " | ".join(first)[:300], highlight=False)
    else:
        console.print(f"[dim]{kind}: {json.dumps(data)[:300]}[/dim]", highlight=False)


def follow(api: Api, run_id: int) -> str:
    """Print the run's events until it ends (resuming after a dropped connection)."""
    last, status = 0, "queued"
    while status not in FINISHED:
        headers = {"Last-Event-ID": str(last)}
        try:
            with api.client.stream(
                "GET",
                f"/runs/{run_id}/events",
                headers=headers,
                timeout=httpx.Timeout(30, read=None),
            ) as response:
                kind, data = "", ""
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        last = int(line[4:])
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif not line and kind:
                        payload = json.loads(data)
                        _show(kind, payload)
                        if kind == "status":
                            status = str(payload.get("status"))
                        kind = ""
        except httpx.HTTPError as exc:
            err.print(f"[dim]stream interrupted ({exc}); resuming after event {last}[/dim]")
    return status


def run(
    task_id: int,
    model: Annotated[str | None, typer.Option(help="Model (default WFHUB_DEFAULT_MODEL).")] = None,
    check: Annotated[
        str | None, typer.Option(help="Command that must pass before the run succeeds.")
    ] = None,
    max_iterations: Annotated[int | None, typer.Option(min=1, help="Model calls at most.")] = None,
    engine: Annotated[
        Engine, typer.Option(help="`aider` needs `wfhub engines install aider`.")
    ] = Engine.native,
    follow_events: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Print the live events until it ends.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Start an agent run of a task (and with --follow watch it to the end)."""
    api = Api(url)
    options: dict[str, Any] = {}
    if check:
        options["check_command"] = check
    if max_iterations:
        options["max_iterations"] = max_iterations
    body: dict[str, Any] = {"engine": engine.value, "options": options}
    if model:
        body["model"] = model
    started = api.call("POST", f"/tasks/{task_id}/runs", json=body)
    console.print(f"run {started['id']} of task {task_id} queued ({started['model']})")
    if not follow_events:
        return
    status = follow(api, int(started["id"]))
    summary = api.call("GET", f"/runs/{started['id']}")
    if summary.get("commit_sha"):
        files = ", ".join(summary["changed_files"])
        where = f" on {summary['branch']}" if summary.get("branch") else " in place"
        console.print(f"committed {summary['commit_sha'][:12]}{where}: {files}")
    if status != "succeeded":
        raise typer.Exit(1)
