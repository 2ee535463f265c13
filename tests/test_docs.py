"""Docs kept honest: every setting, CLI command and API route is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from wfhub.app import create_app
from wfhub.cli import app as cli_app
from wfhub.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
API_DOC = (ROOT / "docs" / "api.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    for name, field in Settings.model_fields.items():
        env = "DATABASE_URL" if name == "database_url" else f"WFHUB_{name.upper()}"
        assert f"`{env}`" in README, f"{env} ({field.description}) is not documented"


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    click_group = typer.main.get_command(group)
    found = []

    def walk(command: object, path: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, f"{path} {name}".strip())
        else:
            found.append(path)

    walk(click_group, prefix)
    return found


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _commands(cli_app)
    assert "db upgrade" in commands
    assert len(commands) >= 8
    for command in commands:
        assert f"`wfhub {command}" in README, f"`wfhub {command}` is not documented"


def test_api_doc_matches_the_openapi_schema() -> None:
    schema = create_app(Settings(_env_file=None)).openapi()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    documented = set(re.findall(r"^\| `([A-Z]+)` \| `([^`]+)` \|", API_DOC, flags=re.MULTILINE))
    assert routes - documented == set(), "undocumented routes"
    assert documented - routes == set(), "documented routes that do not exist"
