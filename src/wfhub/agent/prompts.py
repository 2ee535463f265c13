"""What the agent is told: its role, the rules of its tools, the task and the repository."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

MAP_ENTRIES = 300
INLINE_BYTES = 6000  # a repository this small is shown whole in the first prompt
SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache"})

DEFAULT_ROLE = (
    "You are a careful software engineer working in a git repository. You change code only "
    "through your tools and check your work by running the project's tests."
)
RULES = """Rules:
- Use the tools to look before you change anything: list_files, glob, grep, read_file.
- Change files with edit_file (one exact, unique search text) or write_file (whole file).
- Run tests or other checks with run_command (no network; only the repository is writable).
- Call one tool per reply and wait for its result. When the task is done and checked,
  call finish with a short summary of what you changed.
- If your tool call cannot be parsed you will be told; fix it and try again."""
PLAN = (
    "Before you start, write a short numbered plan (at most 6 steps) for this task. "
    "Do not call any tool yet."
)


@dataclass(frozen=True)
class TaskBrief:
    title: str
    description: str
    criteria: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _files(root: Path) -> list[str]:
    """The repository's first `MAP_ENTRIES` files, in walking order."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        relative = Path(folder).relative_to(root)
        for name in sorted(n for n in names if n not in SKIP_DIRS):  # a worktree's .git file
            found.append(str(relative / name) if str(relative) != "." else name)
            if len(found) >= MAP_ENTRIES:
                return found
    return found


def repository_map(root: Path) -> str:
    """A compact listing of the repository's files (first `MAP_ENTRIES`)."""
    found = _files(root)
    more = "\n... (more files)" if len(found) >= MAP_ENTRIES else ""
    return "\n".join(found) + more if found else "(empty repository)"


def files_in_play(root: Path, brief: TaskBrief) -> list[str]:
    """The files an engine that edits only the files it is given (Aider) starts with, when
    the run names none: all of a small repository's, else those the task mentions by path
    or by a file name found once in the repository."""
    small = small_files(root)
    if small:
        return [name for name, _ in small]
    text = "\n".join([brief.title, brief.description, *brief.criteria, *brief.comments])
    found = _files(root)
    names = [Path(path).name for path in found]

    def mentioned(path: str, name: str) -> bool:
        if "/" in path and path in text:
            return True
        return names.count(name) == 1 and re.search(rf"\b{re.escape(name)}\b", text) is not None

    return [path for path, name in zip(found, names, strict=True) if mentioned(path, name)]


def system_prompt(role: str | None) -> str:
    return f"{role or DEFAULT_ROLE}\n\n{RULES}"


def task_prompt(brief: TaskBrief, root: Path) -> str:
    parts = [f"# Task: {brief.title}", brief.description or "(no description)"]
    if brief.criteria:
        parts.append("## Acceptance criteria\n" + "\n".join(f"- {c}" for c in brief.criteria))
    if brief.comments:
        parts.append("## Comments\n" + "\n".join(f"- {c}" for c in brief.comments))
    parts.append("## Repository files\n" + repository_map(root))
    small = small_files(root)
    if small:
        shown = "\n\n".join(f"### {name}\n```\n{text}```" for name, text in small)
        parts.append("## File contents\n" + shown)
    return "\n\n".join(parts)


def small_files(root: Path) -> list[tuple[str, str]]:
    """Every file of a repository of at most `INLINE_BYTES` of text, or nothing: the model
    then edits what it has seen instead of guessing."""
    found: list[tuple[str, str]] = []
    total = 0
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(n for n in names if n not in SKIP_DIRS):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > INLINE_BYTES:
                return []
            try:
                found.append((str(path.relative_to(root)), path.read_text()))
            except (UnicodeDecodeError, OSError):
                return []
    return found
