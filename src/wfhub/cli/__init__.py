"""The `wfhub` command. Server-side commands live in `server.py`, API clients in `client.py`."""

from wfhub.cli.client import project_app, task_app
from wfhub.cli.engines import engines_app
from wfhub.cli.llm import llm_app
from wfhub.cli.runs import run
from wfhub.cli.server import app
from wfhub.cli.workspace import workspace_app

app.add_typer(project_app, name="project")
app.add_typer(task_app, name="task")
app.add_typer(workspace_app, name="workspace")
app.add_typer(llm_app, name="llm")
app.add_typer(engines_app, name="engines")
app.command("run")(run)

__all__ = ["app"]
