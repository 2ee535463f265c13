"""The agent's tools: files, search, shell, git and subtasks, all confined to one folder.

Every path goes through `workspace.paths.Workspace` (no `..`, absolute paths or symlinks
leading out); shell commands run in the sandbox with the run's limits. A tool never raises
for the model's mistakes: a bad path, a missing search text or a failing command comes back
as an observation starting with `error:`, so the model can correct itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfhub.agent.edits import READ_MAX_BYTES, breaks_python, clip, locate, numbered
from wfhub.errors import NotFound, WfhubError
from wfhub.sandbox.policy import Sandbox
from wfhub.sandbox.process import Limits, run
from wfhub.workspace import files, search
from wfhub.workspace.git import Git
from wfhub.workspace.paths import Workspace

CHANGES_CHARS = 3000  # of the diff shown with a failed check
Handler = Callable[[dict[str, Any]], Awaitable[str]]


@dataclass(frozen=True)
class RunActions:
    """What only a run's agent may do, beyond its folder: record a subtask under its task
    (title, description) and commit on its branch (message). The agent API's toolbox has
    neither, so it does not offer those tools."""

    make_subtask: Callable[[str, str], Awaitable[str]]
    commit: Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler

    def misfit(self, arguments: dict[str, Any]) -> str | None:
        """What is wrong with the model's arguments for this tool (a required one missing, a
        value of the wrong JSON type), or None. Other names are ignored."""
        properties: dict[str, dict[str, str]] = self.parameters["properties"]
        for name in self.parameters["required"]:
            if arguments.get(name) is None:
                return f"`{name}` is required"
        for name, value in arguments.items():
            expected = properties.get(name, {}).get("type")
            if value is not None and expected is not None and not _is_json(value, expected):
                article = "an" if expected[0] in "aeiou" else "a"
                return f"`{name}` must be {article} {expected}, not {json.dumps(value)[:80]}"
        return None

    def schema(self) -> dict[str, Any]:
        """The Ollama/OpenAI function-tool description."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _is_json(value: object, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool}.get(kind, object))


def _params(required: list[str], **props: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: {"type": t, "description": d} for k, (t, d) in props.items()},
        "required": required,
    }


def _text(args: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = args.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"`{name}` must be a non-empty string")
    return value


class Toolbox:
    """The tools of one run, bound to its working folder."""

    def __init__(
        self,
        root: Path,
        sandbox: Sandbox,
        limits: Limits,
        run: RunActions | None = None,
        search_engine: search.Engine = "auto",
    ) -> None:
        self.root = root
        self.ws = Workspace(root)
        self.sandbox = sandbox
        self.limits = limits
        self.run = run
        self.search_engine = search_engine
        self.tools = {t.name: t for t in self._tools()}

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self.tools.values()]

    async def invoke(self, name: str, arguments: dict[str, Any]) -> str:
        """Run a tool for an API caller: errors raise (`WfhubError`, `ValueError`)."""
        tool = self.tools.get(name)
        if tool is None:
            raise ValueError(f"there is no tool {name!r}")
        return clip(await tool.handler(arguments))

    async def call(self, name: str, arguments: object) -> tuple[str, bool]:
        """Run a tool; (observation, ok). Unknown tools and bad arguments are observations."""
        tool = self.tools.get(name)
        if tool is None:
            return f"error: there is no tool {name!r}; use one of {', '.join(self.tools)}", False
        if isinstance(arguments, str):
            text = arguments
            try:
                arguments = json.loads(text)
            except ValueError:
                return f"error: the arguments of {name} are not JSON: {text[:200]!r}", False
        if not isinstance(arguments, dict):
            return f"error: the arguments of {name} must be a JSON object", False
        wrong = tool.misfit(arguments)
        if wrong is not None:
            return f"error: {wrong}", False
        try:
            observation = clip(await tool.handler(arguments))
            return observation, not observation.startswith("error:")
        except (WfhubError, ValueError, OSError) as exc:
            detail = exc.detail if isinstance(exc, WfhubError) else str(exc)
            return f"error: {detail}", False

    def _tools(self) -> list[Tool]:
        path = ("string", "Path relative to the repository root")
        return [
            Tool(
                "list_files",
                "List a directory (default: the root).",
                _params([], path=("string", "Directory, relative")),
                self._list,
            ),
            Tool(
                "read_file",
                "Read a text file, optionally lines start_line..end_line (1-based).",
                _params(
                    ["path"],
                    path=path,
                    start_line=("integer", "First line"),
                    end_line=("integer", "Last line"),
                ),
                self._read,
            ),
            Tool(
                "write_file",
                "Create or replace a whole file.",
                _params(["path", "content"], path=path, content=("string", "New content")),
                self._write,
            ),
            Tool(
                "edit_file",
                "Replace one exact occurrence of `search` by `replace` in a file.",
                _params(
                    ["path", "search", "replace"],
                    path=path,
                    search=("string", "Exact text to find (must occur once)"),
                    replace=("string", "Text to put instead"),
                ),
                self._edit,
            ),
            Tool(
                "grep",
                "Search file contents for a literal text (or a regex).",
                _params(
                    ["pattern"],
                    pattern=("string", "Text to find"),
                    regex=("boolean", "Treat pattern as a regex"),
                    glob=("string", "Only files matching this glob"),
                ),
                self._grep,
            ),
            Tool(
                "glob",
                "Find files by glob pattern, e.g. `**/*.py`.",
                _params(["pattern"], pattern=("string", "Glob")),
                self._glob,
            ),
            Tool(
                "run_command",
                "Run a shell command in the repository (sandboxed, no network).",
                _params(["command"], command=("string", "bash command line")),
                self._shell,
            ),
            Tool("git_status", "Show changed files.", _params([]), self._git_status),
            Tool("git_diff", "Show the diff of uncommitted changes.", _params([]), self._git_diff),
        ] + (self._run_tools() if self.run is not None else [])

    def _run_tools(self) -> list[Tool]:
        return [
            Tool(
                "git_commit",
                "Commit all current changes on the run's branch (the run commits what is "
                "left when it ends).",
                _params(["message"], message=("string", "Commit message")),
                self._commit,
            ),
            Tool(
                "create_subtask",
                "Record a follow-up task under the current task.",
                _params(
                    ["title"],
                    title=("string", "Short title"),
                    description=("string", "What needs doing"),
                ),
                self._subtask,
            ),
        ]

    async def _list(self, args: dict[str, Any]) -> str:
        where = _text(args, "path", required=False) or "."
        listing = files.list_dir(
            self.ws, "" if where in {".", "/"} else where, snapshot=None, hide_ignored=True
        )
        names = [e["name"] + ("/" if e["type"] == "dir" else "") for e in listing["items"]]
        return "\n".join(names) or "(empty directory)"

    def _current(self, path: str) -> dict[str, Any] | None:
        """The file's text and version, or None when it does not exist."""
        try:
            return files.read(self.ws, path, offset=0, length=None, max_bytes=READ_MAX_BYTES)
        except NotFound:
            return None

    async def _read(self, args: dict[str, Any]) -> str:
        path, note = locate(self.root, _text(args, "path"))
        result = files.read(self.ws, path, offset=0, length=None, max_bytes=READ_MAX_BYTES)
        if result.get("content") is None:
            return f"error: {path} is not a text file (or is too large to read)"
        lines = str(result["content"]).splitlines()
        start = max(int(args.get("start_line") or 1), 1)
        end = min(int(args.get("end_line") or len(lines)), len(lines))
        shown = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
        return (shown or "(empty)") + note

    async def _write(self, args: dict[str, Any]) -> str:
        path, note = locate(self.root, _text(args, "path"), creating=True)
        content = args.get("content")
        if not isinstance(content, str):
            raise ValueError("`content` must be a string")
        current = self._current(path)
        if current is not None:
            refused = breaks_python(path, current.get("content"), content)
            if refused:
                return refused
        parent = path.rstrip("/").rpartition("/")[0]
        if parent:
            files.mkdir(self.ws, parent)  # confined like the write; parents made as needed
        files.write(self.ws, path, content.encode())
        return f"wrote {path} ({len(content.splitlines())} lines){note}"

    async def _edit(self, args: dict[str, Any]) -> str:
        path, note = locate(self.root, _text(args, "path"))
        find = _text(args, "search")
        replace = args.get("replace")
        if not isinstance(replace, str):
            raise ValueError("`replace` must be a string")
        current = files.read(self.ws, path, offset=0, length=None, max_bytes=READ_MAX_BYTES)
        text = current.get("content")
        if not isinstance(text, str):
            return f"error: {path} is not a text file"
        count = text.count(find)
        if count == 0 and replace and replace in text:
            return f"nothing to do: {path} already has the replacement text (the edit was made)"
        if count == 0:
            return (
                f"error: the search text was not found in {path}; copy it exactly from the "
                f"file, which is now:\n{numbered(text)}"
            )
        if count > 1:
            return (
                f"error: the search text occurs {count} times in {path}; include more "
                "lines so it is unique"
            )
        edited = text.replace(find, replace, 1)
        refused = breaks_python(path, text, edited)
        if refused:
            return refused
        files.write(self.ws, path, edited.encode(), expected_version=current.get("version"))
        return f"edited {path}{note}"

    async def _grep(self, args: dict[str, Any]) -> str:
        glob = _text(args, "glob", required=False)
        query = search.Query(
            pattern=_text(args, "pattern"),
            regex=bool(args.get("regex")),
            globs=(glob,) if glob else (),
            max_results=100,
        )
        found = await search.search(self.ws, query, self.search_engine)
        lines = [f"{m['path']}:{m['line']}: {m['text']}" for m in found["matches"]]
        return "\n".join(lines) or "no matches"

    async def _glob(self, args: dict[str, Any]) -> str:
        found = await search.find_files(self.root, _text(args, "pattern"), under="", limit=200)
        return "\n".join(found["files"]) or "no files match"

    async def _shell(self, args: dict[str, Any]) -> str:
        command = _text(args, "command")
        done = await run(self.sandbox, ["bash", "-c", command], self.root, self.limits)
        if done.timed_out:
            return f"error: timed out after {self.limits.timeout_seconds:g} s\n{done.output}"
        status = "ok" if done.exit_code == 0 else f"error: exit code {done.exit_code}"
        return f"{status}\n{done.output}" + ("\n[output truncated]" if done.truncated else "")

    async def has_changes(self) -> bool:
        """Whether the folder differs from its last commit (always True outside git)."""
        if not (self.root / ".git").exists():
            return True
        result = await Git(self.root).run("status", "--porcelain", check=False)
        return bool(result.text.strip())

    async def changes(self) -> str:
        """What the run has changed: the short status and the diff, clipped."""
        if not (self.root / ".git").exists():
            return "(not a git repository)"
        status = await self._git("status", "--short")
        return clip(f"{status}\n{await self._git('diff')}", CHANGES_CHARS)

    async def _git(self, *args: str) -> str:
        result = await Git(self.root).run(*args, check=False)
        return result.text or "(nothing)"

    async def _git_status(self, _: dict[str, Any]) -> str:
        return await self._git("status", "--short")

    async def _git_diff(self, _: dict[str, Any]) -> str:
        return await self._git("diff")

    async def _subtask(self, args: dict[str, Any]) -> str:
        assert self.run is not None  # offered only then
        title = _text(args, "title")
        return await self.run.make_subtask(title, _text(args, "description", required=False))

    async def _commit(self, args: dict[str, Any]) -> str:
        assert self.run is not None
        if not (self.root / ".git").exists():
            return "error: this folder is not a git repository; nothing can be committed"
        return await self.run.commit(_text(args, "message"))
