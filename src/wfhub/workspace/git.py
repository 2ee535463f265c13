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
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from wfhub.errors import GitFailed, GitTimeout, InvalidRef, NotFound, WfhubError

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
MAX_OUTPUT = 64 << 20
STDERR_KEEP = 64 << 10
LINE_LIMIT = 1 << 20  # longest line a caller reading line by line accepts
_REV = re.compile(r"^[A-Za-z0-9_./@^~{}:+-]{1,200}$")


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
                limit=LINE_LIMIT,
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
        max_output: int = MAX_OUTPUT,
    ) -> GitResult:
        """Run git to completion; `check` turns a non-zero exit into `GitFailed`. Output past
        `max_output` bytes stops git and fails: callers narrow by path or page instead."""
        async with self.process(args, stdin=input is not None) as proc:
            try:
                stdout, stderr = await asyncio.wait_for(_collect(proc, input, max_output), limit_s)
            except TimeoutError:
                raise GitTimeout(f"git {args[0]} took longer than {limit_s:.0f} s") from None
            if len(stdout) > max_output:
                raise GitFailed(f"git {args[0]} printed over {max_output} bytes; narrow it")
            await proc.wait()
        result = GitResult(proc.returncode or 0, stdout, stderr.decode("utf-8", "replace"))
        if check and result.code != 0:
            raise GitFailed(f"git {args[0]} failed: {result.stderr.strip()[:2000]}")
        return result

    def has_git_dir(self) -> bool:
        """Whether the folder has a `.git` (directory, or file for linked worktrees)."""
        return (self.cwd / ".git").exists()

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


async def read_capped(stream: asyncio.StreamReader, keep: int, *, stop: bool = False) -> bytes:
    """Read a pipe to its end, keeping the first `keep` bytes (and one chunk more, so callers
    can tell it was over); with `stop`, return as soon as it is over."""
    kept = bytearray()
    while chunk := await stream.read(1 << 16):
        if len(kept) <= keep:
            kept += chunk
        if stop and len(kept) > keep:
            break
    return bytes(kept)


async def _collect(
    proc: asyncio.subprocess.Process, data: bytes | None, max_output: int
) -> tuple[bytes, bytes]:
    """stdout (up to just past `max_output`) and the start of stderr, read together so
    neither pipe can fill up and stall git."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout = proc.stdout

    async def feed() -> None:
        if proc.stdin is not None:
            with suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(data or b"")
                await proc.stdin.drain()
            proc.stdin.close()

    async def output() -> bytes:
        out = await read_capped(stdout, max_output, stop=True)
        if len(out) > max_output:
            with suppress(ProcessLookupError):
                proc.kill()  # stop git so stderr reaches its end too
        return out

    _, out, err = await asyncio.gather(feed(), output(), read_capped(proc.stderr, STDERR_KEEP))
    return out, err
