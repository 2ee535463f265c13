"""`wfhub project ...` and `wfhub task ...`: talk to a running server over its API."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from wfhub.config import Settings
from wfhub.models import Environment, TaskStatus
from wfhub.security.tokens import read_token_file

project_app = typer.Typer(help="Projects on a running server.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks on a running server.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar="WFHUB_URL", help="Server URL (default from settings)."),
]


class Api:
    """A small authenticated client; turns wfhub's JSON errors into readable exits."""

    def __init__(self, url: str | None) -> None:
        settings = Settings()
        base = url or settings.hub_base_url
        token = read_token_file(settings.token_file)
        if token is None:
            err.print(f"[red]no token in {settings.token_file}[/red]: run `wfhub token` first")
            raise typer.Exit(2)
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            err.print(f"[red]cannot reach {self.client.base_url}[/red]: {exc}")
            raise typer.Exit(1) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                message = f"{body['error']}: {body['detail']}"
            except (ValueError, KeyError, TypeError):
                message = response.text
            err.print(f"[red]error {response.status_code}[/red] {message}")
            raise typer.Exit(1)
        return response.json()


@project_app.command("list")
def project_list(
    url: UrlOption = None, q: Annotated[str | None, typer.Option(help="Search.")] = None
) -> None:
    """List projects."""
    page = Api(url).call("GET", "/projects", params={"q": q} if q else {})
    table = Table("id", "name", "workspace", "env", title=f"projects ({page['total']})")
    for item in page["items"]:
        table.add_row(str(item["id"]), item["name"], item["workspace_path"], item["environment"])
    console.print(table)


@project_app.command("create")
def project_create(
    name: str,
    workspace: Annotated[str | None, typer.Option(help="Workspace path (relative).")] = None,
    environment: Annotated[Environment, typer.Option(help="Environment.")] = Environment.local,
    description: Annotated[str, typer.Option(help="Description.")] = "",
    setup: Annotated[
        str, typer.Option(help="none, create (the folder) or init (a git repository).")
    ] = "none",
    url: UrlOption = None,
) -> None:
    """Create a project (and, with --setup, its workspace folder)."""
    body: dict[str, Any] = {
        "name": name,
        "environment": environment.value,
        "description": description,
        "workspace": setup,
    }
    if workspace:
        body["workspace_path"] = workspace
    project = Api(url).call("POST", "/projects", json=body)
    console.print(
        f"created project {project['id']}: {project['name']} ({project['workspace_path']})"
    )


@task_app.command("list")
def task_list(
    project_id: int,
    status: Annotated[TaskStatus | None, typer.Option(help="Only this status.")] = None,
    url: UrlOption = None,
) -> None:
    """Show a project's tasks as a tree."""
    params: dict[str, Any] = {"tree": "true", "limit": 1000}
    if status is not None:
        params["status"] = status.value
    page = Api(url).call("GET", f"/projects/{project_id}/tasks", params=params)
    root = Tree(f"project {project_id}: {page['total']} top-level task(s)")
    _add_branches(root, page["items"])
    console.print(root)


def _add_branches(branch: Tree, items: list[dict[str, Any]]) -> None:
    for item in items:
        status = f"[dim]{item['status']} p{item['priority']}[/dim]"
        label = f"[bold]#{item['id']}[/bold] {item['title']}  {status}"
        _add_branches(branch.add(label), item["children"])


@task_app.command("create")
def task_create(
    project_id: int,
    title: str,
    description: Annotated[str, typer.Option(help="Description.")] = "",
    parent: Annotated[int | None, typer.Option(help="Parent task id.")] = None,
    priority: Annotated[int, typer.Option(help="Priority.")] = 0,
    url: UrlOption = None,
) -> None:
    """Create a task (a subtask with --parent)."""
    body: dict[str, Any] = {"title": title, "description": description, "priority": priority}
    if parent is not None:
        body["parent_id"] = parent
    task = Api(url).call("POST", f"/projects/{project_id}/tasks", json=body)
    console.print(f"created task {task['id']}: {task['title']}")


@task_app.command("show")
def task_show(task_id: int, url: UrlOption = None) -> None:
    """Show one task with its acceptance criteria and comments."""
    api = Api(url)
    task = api.call("GET", f"/tasks/{task_id}")
    criteria = api.call("GET", f"/tasks/{task_id}/acceptance-criteria")
    comments = api.call("GET", f"/tasks/{task_id}/comments")
    table = Table(show_header=False, title=f"task {task['id']}")
    for key in ("title", "status", "priority", "project_id", "parent_id", "depth", "description"):
        table.add_row(key, str(task[key]))
    console.print(table)
    for criterion in criteria:
        mark = "[green]✓[/green]" if criterion["passed"] else "[ ]"
        console.print(f"  {mark} {criterion['description']}", highlight=False)
    for comment in comments:
        console.print(f"  [dim]{comment['author']}:[/dim] {comment['body']}", highlight=False)
