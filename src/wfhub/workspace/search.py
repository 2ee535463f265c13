"""Content search and file finding: ripgrep when installed, a pure-Python engine otherwise.

Both engines search the same files (hidden ones too, `.git` never, `.gitignore` honoured in
git repositories, symlinks not followed, binary files skipped) and produce the same matches:
1-based line and character column, the matched line and up to `context` lines around it.
`tests/test_workspace_search.py` runs every query through both and compares.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import pathspec

from wfhub.errors import InvalidInput, WfhubError
from wfhub.workspace.git import Git
from wfhub.workspace.paths import Workspace

MAX_LINE_CHARS = 2000  # longer matched or context lines are cut (minified files)
PYTHON_MAX_FILE = 64 << 20  # the Python engine skips larger files; ripgrep streams them
Case = Literal["sensitive", "insensitive", "smart"]
Engine = Literal["auto", "rg", "python"]


@dataclass(frozen=True)
class Query:
    pattern: str
    regex: bool = False
    case: Case = "smart"
    globs: tuple[str, ...] = ()
    context: int = 0
    max_results: int = 200
    path: str = ""  # a directory below the workspace root, already confined

    def ignore_case(self) -> bool:
        if self.case == "smart":
            return self.pattern == self.pattern.lower()
        return self.case == "insensitive"

    def compiled(self) -> re.Pattern[str]:
        source = self.pattern if self.regex else re.escape(self.pattern)
        try:
            return re.compile(source, re.IGNORECASE if self.ignore_case() else 0)
        except re.error as exc:
            raise InvalidInput(f"invalid regular expression: {exc}") from None


@dataclass
class FileHits:
    """Matched and context lines of one file, by line number."""

    matches: list[tuple[int, int, str]] = field(default_factory=list)  # line, column, text
    lines: dict[int, str] = field(default_factory=dict)


def rg_available() -> bool:
    return shutil.which("rg") is not None


def pick_engine(engine: Engine) -> Literal["rg", "python"]:
    if engine == "auto":
        return "rg" if rg_available() else "python"
    if engine == "rg" and not rg_available():
        raise InvalidInput("ripgrep (rg) is not installed; use engine=python or auto")
    return engine


async def search(ws: Workspace, query: Query, engine: Engine = "auto") -> dict[str, Any]:
    """Matches sorted by path and line; `truncated` when `max_results` cut the list."""
    chosen = pick_engine(engine)
    if chosen == "rg":
        hits, truncated = await _search_rg(ws.root, query)
    else:
        pattern = query.compiled()
        paths = await candidate_files(ws.root, query.path, query.globs)
        hits, truncated = await asyncio.to_thread(_search_python, ws, paths, pattern, query)
    results = []
    for path in sorted(hits):
        file_hits = hits[path]
        for line, column, text in sorted(file_hits.matches):
            results.append(
                {
                    "path": path,
                    "line": line,
                    "column": column,
                    "text": text,
                    "before": _around(file_hits.lines, line, -query.context),
                    "after": _around(file_hits.lines, line, query.context),
                }
            )
    if len(results) > query.max_results:
        results, truncated = results[: query.max_results], True
    return {"matches": results, "truncated": truncated, "engine": chosen}


def _around(lines: dict[int, str], line: int, span: int) -> list[str]:
    numbers = range(line + span, line) if span < 0 else range(line + 1, line + span + 1)
    return [lines[n] for n in numbers if n in lines]


def _rg_base(query: Query) -> list[str]:
    args = ["rg", "--hidden", "--glob", "!.git", "--no-ignore-parent", "--no-ignore-dot"]
    args += ["--no-config", "--no-messages"]
    for glob in query.globs:
        args += ["--glob", glob]
    return args


async def _search_rg(root: Path, query: Query) -> tuple[dict[str, FileHits], bool]:
    args = [*_rg_base(query), "--json", "--context", str(query.context)]
    args += ["--ignore-case" if query.ignore_case() else "--case-sensitive"]
    if not query.regex:
        args.append("--fixed-strings")
    args += ["--regexp", query.pattern, "--", query.path or "."]
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        limit=1 << 24,
    )
    assert proc.stdout is not None
    hits: dict[str, FileHits] = {}
    count = 0
    truncated = finished = False
    try:
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line past the stream limit (a match in a huge minified line)
                truncated = True
                break
            if not raw:
                finished = True
                break
            message = orjson.loads(raw)
            kind = message["type"]
            if kind not in ("match", "context"):
                continue
            data = message["data"]
            path = _rg_text(data["path"]).removeprefix("./")
            number = data["line_number"]
            line = _clip(_rg_text(data["lines"]).rstrip("\r\n"))
            file_hits = hits.setdefault(path, FileHits())
            file_hits.lines[number] = line
            if kind == "match":
                raw_line = _rg_bytes(data["lines"])
                for sub in data["submatches"]:
                    column = len(raw_line[: sub["start"]].decode("utf-8", "replace")) + 1
                    file_hits.matches.append((number, column, line))
                    count += 1
                if count > query.max_results:
                    truncated = True
                    break
    finally:
        if not finished:  # stopped early (cap or error): rg may still be writing
            with suppress(ProcessLookupError):
                proc.kill()
        _, stderr = await proc.communicate()
    if proc.returncode == 2 and not truncated and stderr:
        raise InvalidInput(f"search failed: {stderr.decode(errors='replace').strip()[:500]}")
    return hits, truncated


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


def _rg_text(value: dict[str, str]) -> str:
    return _rg_bytes(value).decode("utf-8", "replace")


def _rg_bytes(value: dict[str, str]) -> bytes:
    if "text" in value:
        return value["text"].encode()
    return base64.b64decode(value["bytes"])


def _read_text(ws: Workspace, path: str) -> str | None:
    """A candidate's text through the confined opener; None for binary, huge or vanished."""
    try:
        with ws.open_file(path) as (fd, info, _):
            if info.st_size > PYTHON_MAX_FILE:
                return None
            data = os.pread(fd, info.st_size, 0)
    except (WfhubError, OSError):
        return None
    return None if b"\0" in data else data.decode("utf-8", "replace")


def _search_python(
    ws: Workspace, paths: list[str], pattern: re.Pattern[str], query: Query
) -> tuple[dict[str, FileHits], bool]:
    hits: dict[str, FileHits] = {}
    count = 0
    for path in paths:
        text = _read_text(ws, path)
        if text is None:
            continue
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        file_hits: FileHits | None = None
        for index, raw_line in enumerate(lines):
            line = raw_line.removesuffix("\r")
            for match in pattern.finditer(line):
                if match.start() == match.end():
                    continue
                if file_hits is None:
                    file_hits = hits.setdefault(path, FileHits())
                number = index + 1
                file_hits.matches.append((number, match.start() + 1, _clip(line)))
                low, high = (
                    max(0, index - query.context),
                    min(len(lines), index + query.context + 1),
                )
                for n in range(low, high):
                    file_hits.lines[n + 1] = _clip(lines[n].removesuffix("\r"))
                count += 1
            if count > query.max_results:
                return hits, True
    return hits, False


async def candidate_files(root: Path, under: str, globs: tuple[str, ...]) -> list[str]:
    """Files a search looks at, as ripgrep would choose them, sorted."""
    if await asyncio.to_thread(Git(root).has_git_dir):
        args = ("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", under or ".")
        listed = [p for p in (await Git(root).run(*args)).text.split("\0") if p]
    else:
        listed = await asyncio.to_thread(_walk_all, root, under)
    return await asyncio.to_thread(_filter, root, listed, globs)


def _filter(root: Path, listed: list[str], globs: tuple[str, ...]) -> list[str]:
    include = [g for g in globs if not g.startswith("!")]
    exclude = [g[1:] for g in globs if g.startswith("!")]
    keep = pathspec.PathSpec.from_lines("gitignore", include) if include else None
    drop = pathspec.PathSpec.from_lines("gitignore", exclude) if exclude else None
    files = []
    for path in listed:
        if keep is not None and not keep.match_file(path):
            continue
        if drop is not None and drop.match_file(path):
            continue
        if _is_regular(root / path):  # ls-files also lists symlinks and deleted files
            files.append(path)
    return sorted(files)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _walk_all(root: Path, under: str) -> list[str]:
    found = []
    base = root / under if under else root
    for directory, dirs, names in os.walk(base):
        dirs[:] = [
            d for d in dirs if d != ".git" and not os.path.islink(os.path.join(directory, d))
        ]
        relative = os.path.relpath(directory, root)
        for name in names:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                found.append(name if relative == "." else f"{relative}/{name}")
    return found


async def find_files(root: Path, pattern: str, *, under: str, limit: int) -> dict[str, Any]:
    """Files whose path matches a glob (`*.py` at any depth, `src/**/*.ts`), sorted."""
    if not pattern.strip():
        raise InvalidInput("pattern must not be empty")
    files = await candidate_files(root, under, (pattern,))
    return {"files": files[:limit], "truncated": len(files) > limit}
