"""`wfhub workspace ...`: browse, search and use git in a project's workspace over the API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from wfhub.cli.client import Api, UrlOption, console, err

workspace_app = typer.Typer(
    help="Files, search and git of a project's workspace.", no_args_is_help=True
)


def _base(project_id: int) -> str:
    return f"/workspace/{project_id}"


@workspace_app.command("setup")
def setup(
    project_id: int,
    action: Annotated[str, typer.Argument(help="create, init or clone")],
    source: Annotated[str | None, typer.Argument(help="Repository URL or path (clone).")] = None,
    url: UrlOption = None,
) -> None:
    """Create the workspace folder, `git init` it, or clone into it (with a progress bar)."""
    api = Api(url)
    body = {"action": action, "source": source}
    if action != "clone":
        info = api.call("POST", f"{_base(project_id)}/setup", json=body)
        console.print(f"workspace ready (git: {info['git']})")
        return
    with api.client.stream(
        "POST", f"{_base(project_id)}/setup", json=body, timeout=None
    ) as response:
        if response.status_code >= 400:
            response.read()
            err.print(f"[red]error {response.status_code}[/red] {response.text}")
            raise typer.Exit(1)
        with Progress(console=console) as progress:
            bar = progress.add_task("cloning", total=100)
            for line in response.iter_lines():
                event = json.loads(line)
                if "error" in event:
                    err.print(f"[red]{event['error']}[/red]: {event['detail']}")
                    raise typer.Exit(1)
                progress.update(
                    bar, description=event["phase"], completed=event.get("percent", 100)
                )
    console.print("cloned")


@workspace_app.command("ls")
def list_dir(project_id: int, path: str = "", url: UrlOption = None) -> None:
    """List one directory with git badges."""
    page = Api(url).call("GET", f"{_base(project_id)}/files", params={"path": path})
    table = Table("name", "type", "size", "git", title=page["path"] or ".")
    for item in page["items"]:
        badge = "ignored" if item["ignored"] else item["git"] or ""
        table.add_row(item["name"], item["type"], str(item["size"]), badge)
    console.print(table)


@workspace_app.command("cat")
def cat(project_id: int, path: str, url: UrlOption = None) -> None:
    """Print a text file."""
    body = Api(url).call("GET", f"{_base(project_id)}/file", params={"path": path})
    if body["content"] is None:
        err.print(body.get("detail") or f"{path} is {body['kind']}; download it with raw=true")
        raise typer.Exit(1)
    console.out(body["content"], end="", highlight=False)


@workspace_app.command("search")
def search(
    project_id: int,
    query: str,
    regex: Annotated[bool, typer.Option(help="Treat QUERY as a regular expression.")] = False,
    glob: Annotated[
        list[str] | None, typer.Option(help="Only files matching (repeatable).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Search file contents (ripgrep when installed)."""
    params: dict[str, Any] = {"q": query, "regex": regex, "glob": glob or []}
    body = Api(url).call("GET", f"{_base(project_id)}/search", params=params)
    for match in body["matches"]:
        console.print(
            f"{match['path']}:{match['line']}:{match['column']}: {match['text']}",
            highlight=False,
            markup=False,
        )
    if body["truncated"]:
        err.print("(more matches left out)")


@workspace_app.command("status")
def status(project_id: int, url: UrlOption = None) -> None:
    """git status: branch, staged, unstaged, untracked, conflicted."""
    body = Api(url).call("GET", f"{_base(project_id)}/git/status")
    console.print(f"on {body['branch']}  ahead {body['ahead']} behind {body['behind']}")
    for title, key in (
        ("staged", "staged"),
        ("unstaged", "unstaged"),
        ("conflicted", "conflicted"),
    ):
        for entry in body[key]:
            console.print(f"  {title:<10} {entry['status']:<10} {entry['path']}", markup=False)
    for path in body["untracked"]:
        console.print(f"  untracked  {path}", markup=False)


@workspace_app.command("diff")
def diff(project_id: int, staged: bool = False, url: UrlOption = None) -> None:
    """Show the working-tree (or staged) diff."""
    body = Api(url).call("GET", f"{_base(project_id)}/git/diff", params={"staged": staged})
    for file in body["files"]:
        console.out(file["patch"], highlight=False)


@workspace_app.command("log")
def log(project_id: int, limit: int = 20, url: UrlOption = None) -> None:
    """Recent commits."""
    body = Api(url).call("GET", f"{_base(project_id)}/git/log", params={"limit": limit})
    for commit in body["items"]:
        who, day = commit["author"]["name"], commit["date"][:10]
        console.print(f"{commit['sha'][:10]} {day} {who}: {commit['subject']}", markup=False)


@workspace_app.command("commit")
def commit(
    project_id: int,
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")],
    all_changes: Annotated[
        bool, typer.Option("--all", "-a", help="Stage every change first.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Commit staged changes (or all with --all)."""
    body = Api(url).call(
        "POST", f"{_base(project_id)}/git/commit", json={"message": message, "all": all_changes}
    )
    console.print(f"committed {body['sha'][:10]} ({body['files']} file(s))")
