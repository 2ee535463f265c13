"""The `wfhub` command. Server-side commands live in `server.py`, API clients in `client.py`."""

from wfhub.cli.client import project_app, task_app
from wfhub.cli.server import app

app.add_typer(project_app, name="project")
app.add_typer(task_app, name="task")

__all__ = ["app"]
