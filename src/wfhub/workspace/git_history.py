"""Read-only git views: diff (capped like GitHub's), log, show, blame.

Diff output is read as a stream and parsed file by file; once a cap is reached git is killed,
so a huge diff never sits in memory. Caps: 1 MB or 20,000 lines a diff, 500 KB a file; the
parts left out are marked `truncated`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from wfhub.errors import GitFailed
from wfhub.workspace.git import STDERR_KEEP, Git, check_rev, read_capped

DIFF_MAX_BYTES = 1_000_000
DIFF_MAX_LINES = 20_000
FILE_MAX_BYTES = 500_000
_FIELD = "\x1f"
_RECORD = "\x1e"
_LOG_FORMAT = _FIELD.join(["%H", "%P", "%an", "%ae", "%aI", "%cn", "%cI", "%s", "%b"]) + _RECORD
_NO_PROGRAMS = ("--no-ext-diff", "--no-textconv", "--no-color")


@dataclass
class FileDiff:
    header: list[str] = field(default_factory=list)
    patch: list[str] = field(default_factory=list)
    bytes: int = 0
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        old, new = _paths(self.header)
        return {
            "old_path": old,
            "new_path": new,
            "binary": any(line.startswith("Binary files ") for line in self.patch),
            "additions": sum(
                1 for x in self.patch if x.startswith("+") and not x.startswith("+++")
            ),
            "deletions": sum(
                1 for x in self.patch if x.startswith("-") and not x.startswith("---")
            ),
            "patch": "\n".join(self.header + self.patch),
            "truncated": self.truncated,
        }


def _paths(header: list[str]) -> tuple[str | None, str | None]:
    old = new = None
    for line in header:
        if line.startswith("--- "):
            old = None if line == "--- /dev/null" else line[4:].removeprefix("a/")
        elif line.startswith("+++ "):
            new = None if line == "+++ /dev/null" else line[4:].removeprefix("b/")
        elif line.startswith(("rename from ", "copy from ")):
            old = line.split(" ", 2)[2]
        elif line.startswith(("rename to ", "copy to ")):
            new = line.split(" ", 2)[2]
    if old is None and new is None and header:
        # "diff --git a/x b/x" with no ---/+++ (mode change, empty or binary file)
        first = header[0].removeprefix("diff --git ")
        half = len(first) // 2
        old, new = first[:half].removeprefix("a/"), first[half + 1 :].removeprefix("b/")
    return old, new


async def diff(
    git: Git,
    *,
    staged: bool = False,
    base: str | None = None,
    head: str | None = None,
    path: str | None = None,
    context: int = 3,
) -> dict[str, Any]:
    """The working-tree diff (or the staged one, or `base`..`head`), capped."""
    args = ["diff", *_NO_PROGRAMS, f"--unified={context}", "--find-renames"]
    if staged:
        args.append("--cached")
    args += [check_rev(r) for r in (base, head) if r is not None]
    args += ["--", path] if path else []
    return await _read_patch(git, args)


async def _read_patch(git: Git, args: list[str]) -> dict[str, Any]:
    files: list[FileDiff] = []
    total_bytes = total_lines = 0
    truncated = False
    async with git.process(args) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        errors = asyncio.create_task(read_capped(proc.stderr, STDERR_KEEP))
        current: FileDiff | None = None
        in_header = False
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # one line over LINE_LIMIT: stop here, as at a cap
                truncated = True
                if current is not None:
                    current.truncated = True
                break
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("diff --git "):
                current = FileDiff(header=[line])
                files.append(current)
                in_header = True
                continue
            if current is None:
                continue  # commit header of `git show`: parsed elsewhere
            if in_header and not line.startswith(("@@", "Binary files ")):
                current.header.append(line)
                continue
            in_header = False
            total_bytes += len(raw)
            total_lines += 1
            if total_bytes > DIFF_MAX_BYTES or total_lines > DIFF_MAX_LINES:
                truncated = current.truncated = True
                break
            if current.bytes + len(raw) > FILE_MAX_BYTES:
                current.truncated = True
                continue
            current.bytes += len(raw)
            current.patch.append(line)
        if not truncated and await proc.wait() != 0:
            message = (await errors).decode("utf-8", "replace").strip()
            raise GitFailed(f"git {args[0]} failed: {message[:2000]}")
    errors.cancel()
    return {"files": [f.as_dict() for f in files], "truncated": truncated}


def _commit(record: str) -> dict[str, Any]:
    sha, parents, name, email, date, committer, committed, subject, body = record.split(_FIELD, 8)
    return {
        "sha": sha,
        "parents": parents.split(),
        "author": {"name": name, "email": email},
        "date": date,
        "committer": committer,
        "committed_at": committed,
        "subject": subject,
        "body": body.strip(),
    }


async def log(
    git: Git, *, ref: str | None = None, path: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A page of commits, newest first; `ref` defaults to HEAD."""
    if (await git.run("rev-parse", "--verify", "--quiet", "HEAD", check=False)).code != 0:
        return {"items": [], "limit": limit, "offset": offset, "has_more": False}
    args = ["log", f"--format={_LOG_FORMAT}", f"--skip={offset}", f"--max-count={limit + 1}"]
    args += [check_rev(ref)] if ref else []
    args += ["--", path] if path else []
    records = [r.strip("\n") for r in (await git.run(*args)).text.split(_RECORD)]
    commits = [_commit(r) for r in records if r]
    return {
        "items": commits[:limit],
        "limit": limit,
        "offset": offset,
        "has_more": len(commits) > limit,
    }


async def show(git: Git, rev: str) -> dict[str, Any]:
    """One commit with its patch (capped like `diff`)."""
    rev = check_rev(rev)
    header = await git.run("show", "--no-patch", f"--format={_LOG_FORMAT}", "--end-of-options", rev)
    commit = _commit(header.text.strip("\n").rstrip(_RECORD))
    patch = await _read_patch(
        git,
        ["show", *_NO_PROGRAMS, "--format=", "--find-renames", "--end-of-options", rev],
    )
    return commit | patch


async def blame(git: Git, path: str, *, rev: str | None = None) -> dict[str, Any]:
    """Who last changed each line of `path` (at `rev`, default the working tree)."""
    args = ["blame", "--porcelain"]
    args += [check_rev(rev)] if rev else []
    out = (await git.run(*args, "--", path)).text
    commits: dict[str, dict[str, str]] = {}
    lines: list[dict[str, Any]] = []
    current: dict[str, str] = {}
    sha = ""
    for line in out.split("\n"):
        if line.startswith("\t"):
            lines.append({"line": len(lines) + 1, "sha": sha, "text": line[1:]})
            continue
        fields = line.split(" ")
        if (
            len(fields[0]) == 40
            and len(fields) >= 3
            and all(c in "0123456789abcdef" for c in fields[0])
        ):
            sha = fields[0]
            current = commits.setdefault(sha, {})
        elif fields[0] in ("author", "author-mail", "author-time", "summary"):
            current[fields[0]] = line.split(" ", 1)[1] if " " in line else ""
    return {"path": path, "lines": lines, "commits": commits}
