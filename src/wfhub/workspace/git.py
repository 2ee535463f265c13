"""Running `git` safely: no hooks, no fsmonitor, no pagers or external diff programs, refs
validated, `--` before paths, bounded output and time.

A workspace's `.git/config` is not trusted: it may name an fsmonitor or hooks path that runs a
program on `git status`. Command-line `-c` settings win over every config file, so these are
neutralised on each call. (Clean/smudge filters named in `.git/config` still run on `add` and
checkout; agents run git inside their sandbox, see docs/workspace.md.)
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from wfhub.errors import Conflict, InvalidInput, NotFound, WfhubError

SAFE_CONFIG = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.pager=cat",
    "-c", "credential.helper=",
    "-c", "protocol.ext.allow=never",
    "-c", "core.sshCommand=ssh -o BatchMode=yes",
    "-c", "color.ui=false",
)  # fmt: skip
DEFAULT_TIMEOUT = 60.0
_REV = re.compile(r"^[A-Za-z0-9_./@^~{}:+-]{1,200}$")


class GitFailed(Conflict):
    code = "git_failed"


class GitTimeout(WfhubError):
    status_code = 504
    code = "git_timeout"


class InvalidRef(InvalidInput):
    code = "invalid_ref"


@dataclass(frozen=True)
class Author:
    name: str
    email: str


@dataclass(frozen=True)
class GitResult:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def check_rev(rev: str) -> str:
    """A revision argument (branch, tag, sha, `HEAD~2`); option-like or odd strings refused."""
    if not _REV.fullmatch(rev) or rev.startswith("-") or ".." in rev or rev.endswith(".lock"):
        raise InvalidRef(f"{rev!r} is not a valid revision")
    return rev


class Git:
    """`git` in one working directory."""

    def __init__(self, cwd: Path, *, author: Author | None = None) -> None:
        self.cwd = cwd
        self.author = author

    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_PAGER": "cat",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_LITERAL_PATHSPECS": "1",  # a path like ":(top)x" is a name, not magic
        }
        if self.author is not None:
            env |= {
                "GIT_AUTHOR_NAME": self.author.name,
                "GIT_AUTHOR_EMAIL": self.author.email,
                "GIT_COMMITTER_NAME": self.author.name,
                "GIT_COMMITTER_EMAIL": self.author.email,
            }
        return env

    @asynccontextmanager
    async def process(
        self, args: Sequence[str], *, stdin: bool = False
    ) -> AsyncIterator[asyncio.subprocess.Process]:
        """A running git process; killed if the block leaves before it ends."""
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                *SAFE_CONFIG,
                *args,
                cwd=self.cwd,
                env=self.env(),
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            if not await asyncio.to_thread(self.cwd.is_dir):
                raise NotFound(f"the workspace folder {self.cwd.name!r} does not exist") from None
            raise WfhubError("git is not installed on the server") from None
        try:
            yield proc
        finally:
            if proc.returncode is None:
                with suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    async def run(
        self,
        *args: str,
        check: bool = True,
        input: bytes | None = None,
        limit_s: float = DEFAULT_TIMEOUT,
    ) -> GitResult:
        """Run git to completion; `check` turns a non-zero exit into `GitFailed`."""
        async with self.process(args, stdin=input is not None) as proc:
            try:
                stdout, stderr = await asyncio.wait_for(proc.communicate(input), limit_s)
            except TimeoutError:
                raise GitTimeout(f"git {args[0]} took longer than {limit_s:.0f} s") from None
        result = GitResult(proc.returncode or 0, stdout, stderr.decode("utf-8", "replace"))
        if check and result.code != 0:
            raise GitFailed(f"git {args[0]} failed: {result.stderr.strip()[:2000]}")
        return result

    def run_sync(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run git from a worker thread; returns stdout, raises `GitFailed` on failure."""
        try:
            done = subprocess.run(
                ["git", *SAFE_CONFIG, *args],
                cwd=self.cwd,
                env=self.env(),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitTimeout(f"git {args[0]} took longer than {timeout:.0f} s") from None
        if done.returncode != 0:
            raise GitFailed(f"git {args[0]} failed: {done.stderr.decode(errors='replace')[:2000]}")
        return done.stdout.decode("utf-8", "surrogateescape")

    async def is_repo(self) -> bool:
        if not await asyncio.to_thread(self.cwd.is_dir):
            return False
        result = await self.run("rev-parse", "--is-inside-work-tree", check=False)
        return result.code == 0 and result.text.strip() == "true"

    async def check_branch_name(self, name: str) -> str:
        """A new branch name as git accepts it; names that look like options are refused."""
        if not name or name.startswith("-") or len(name) > 200:
            raise InvalidRef(f"{name!r} is not a valid branch name")
        result = await self.run("check-ref-format", "--branch", name, check=False)
        if result.code != 0:
            raise InvalidRef(f"{name!r} is not a valid branch name")
        return name
