"""Agent engines that run outside wfhub's process, each in its own virtualenv.

`wfhub engines install aider` makes `$WFHUB_ENGINES/aider` (default `$WFHUB_HOME/engines`)
with the pinned `aider-chat` and nothing of wfhub's: Aider's many pinned dependencies
(litellm, an older openai, tree-sitter) never meet wfhub's, and wfhub never imports them.
A marker file, written last, says the install finished; a folder without it (an
interrupted install) is removed and made again. The venv's scripts carry its absolute path,
so it is built where it stays rather than built aside and moved.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from wfhub.config import Settings
from wfhub.errors import EngineNotInstalled

MARKER = ".wfhub-engine.json"
VERSION_SECONDS = 120.0


@dataclass(frozen=True)
class Engine:
    name: str
    requirement: str  # pinned: an engine is installed once and behaves the same after
    version: str  # what `<executable> --version` prints, checked after installing
    executable: str


ENGINES = {"aider": Engine("aider", "aider-chat==0.86.2", "0.86.2", "aider")}


class InstallFailed(Exception):
    """A step of an engine install failed; the message says which."""


def venv_of(settings: Settings, engine: Engine) -> Path:
    return settings.engines_dir / engine.name


def installed(settings: Settings, engine: Engine) -> bool:
    try:
        marker = json.loads((venv_of(settings, engine) / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("requirement") == engine.requirement


def require(settings: Settings, name: str) -> Engine:
    """The engine, or `EngineNotInstalled` saying how to install it."""
    engine = ENGINES[name]
    if not installed(settings, engine):
        raise EngineNotInstalled(
            f"the {name} engine is not installed here; run `wfhub engines install {name}`"
        )
    return engine


def install(settings: Settings, engine: Engine) -> bool:
    """Install the engine unless it already is; True when this call installed it."""
    if installed(settings, engine):
        return False
    venv = venv_of(settings, engine)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    _step([sys.executable, "-m", "venv", str(venv)], "create the virtualenv")
    _step(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", engine.requirement],
        f"pip install {engine.requirement}",
    )
    shown = subprocess.run(
        [str(venv / "bin" / engine.executable), "--version"],
        capture_output=True,
        text=True,
        timeout=VERSION_SECONDS,
        check=False,
    )
    if engine.version not in shown.stdout:
        raise InstallFailed(
            f"{engine.executable} --version printed {shown.stdout.strip()!r} "
            f"(expected {engine.version}): {shown.stderr.strip()[-500:]}"
        )
    marker = {"requirement": engine.requirement, "python": sys.version.split()[0]}
    (venv / MARKER).write_text(json.dumps(marker) + "\n")
    return True


def interpreter_prefix(venv: Path) -> Path:
    """The Python installation the venv runs on (its `pyvenv.cfg` names it): a sandboxed
    engine must see it too, and it need not be under /usr."""
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).parent
    raise EngineNotInstalled(f"{venv} is damaged (no Python home in pyvenv.cfg); reinstall it")


def _step(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, check=False)
    if done.returncode != 0:
        raise InstallFailed(f"could not {what} (exit status {done.returncode})")
