"""Confinement: every path a client names resolves inside its workspace, checked at open time.

Paths are walked one component at a time from a directory fd with `O_NOFOLLOW`, so nothing
swapped in between a check and the open can lead outside: each step holds a real directory.
A symlink met on the way is read with `readlinkat` and resolved *logically* against the
workspace (never by the kernel); a target that is absolute or climbs above the root is refused.
Symlinks that stay inside are followed. Regular files with more than one hard link are refused
for reading and writing: a hard link has no target to check, so it may be the twin of a
file outside.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wfhub.errors import (
    Conflict,
    Forbidden,
    InvalidPath,
    NotFound,
    PathEscape,
    WfhubError,
    WorkspaceIOError,
)

MAX_SYMLINK_HOPS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def split_path(path: str) -> list[str]:
    """The components of a client path relative to the workspace root ('' is the root).

    Refuses NUL bytes, absolute paths and `..` anywhere (even where it would stay inside):
    a client has no reason to send one, and refusing is simpler to trust than normalising.
    """
    if "\0" in path:
        raise InvalidPath("path contains a NUL byte")
    if path.startswith("/"):
        raise PathEscape(f"absolute paths are not allowed: {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathEscape(f"`..` is not allowed in paths: {path!r}")
    for part in parts:
        if len(part.encode()) > 255:
            raise InvalidPath("a path component is longer than 255 bytes")
    return parts


def join(parts: list[str]) -> str:
    return "/".join(parts)


@dataclass(frozen=True)
class Located:
    """A resolved path: an open fd of its parent directory and its final name."""

    parent_fd: int
    name: str
    parts: list[str]  # the resolved components (symlinks inside the workspace replaced)

    @property
    def path(self) -> str:
        return join(self.parts)


class Workspace:
    """One workspace folder; all access to files under it goes through here."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _open_root(self) -> int:
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"the workspace folder {self.root.name!r} does not exist") from None

    def _resolve_link(self, dir_parts: list[str], dir_fd: int, name: str) -> list[str]:
        with os_errors([*dir_parts, name]):
            target = os.readlink(name, dir_fd=dir_fd)
        if target.startswith("/"):
            raise PathEscape(f"{join([*dir_parts, name])!r} is a symlink to an absolute path")
        combined: list[str] = list(dir_parts)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not combined:
                    raise PathEscape(f"{join([*dir_parts, name])!r} links outside the workspace")
                combined.pop()
            else:
                combined.append(part)
        return combined

    def _walk(self, parts: list[str]) -> tuple[int, list[str]]:
        """An fd of the directory `parts` and its resolved components (caller closes)."""
        hops = 0
        pending = list(parts)
        done: list[str] = []
        fd = self._open_root()
        try:
            while pending:
                name = pending.pop(0)
                try:
                    next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise translate(exc, [*done, name]) from None
                    if not _is_symlink(fd, name):
                        raise NotFound(f"{join([*done, name])!r} is not a directory") from None
                    hops += 1
                    if hops > MAX_SYMLINK_HOPS:
                        raise InvalidPath("too many levels of symbolic links") from None
                    resolved = self._resolve_link(done, fd, name)
                    os.close(fd)
                    fd = self._open_root()
                    done = []
                    pending = resolved + pending
                    continue
                os.close(fd)
                fd = next_fd
                done.append(name)
        except BaseException:
            os.close(fd)
            raise
        return fd, done

    @contextmanager
    def directory(self, path: str) -> Iterator[tuple[int, str]]:
        """An open fd of the directory at `path` and its resolved path."""
        fd, parts = self._walk(split_path(path))
        try:
            yield fd, join(parts)
        finally:
            os.close(fd)

    def resolve_dir(self, path: str) -> str:
        """The confined, link-resolved path of a directory, for tools that take a path."""
        with self.directory(path) as (_, resolved):
            return resolved

    @contextmanager
    def locate(self, path: str, *, follow: bool = True) -> Iterator[Located]:
        """The parent directory fd and final name of `path` (which need not exist).

        With `follow`, a final symlink that stays inside is replaced by its target, so a write
        lands on the target; without it (delete, rename) the link itself is meant.
        """
        parts = split_path(path)
        if not parts:
            raise InvalidPath("this operation needs a path below the workspace root")
        for _ in range(MAX_SYMLINK_HOPS):
            fd, resolved = self._walk(parts[:-1])
            name = parts[-1]
            if follow and _is_symlink(fd, name):
                try:
                    parts = self._resolve_link(resolved, fd, name)
                finally:
                    os.close(fd)
                if not parts:
                    raise InvalidPath("this path resolves to the workspace root")
                continue
            try:
                yield Located(parent_fd=fd, name=name, parts=[*resolved, name])
            finally:
                os.close(fd)
            return
        raise InvalidPath("too many levels of symbolic links")

    @contextmanager
    def open_file(self, path: str) -> Iterator[tuple[int, os.stat_result, str]]:
        """An fd of the regular file at `path` (opened without following a final link)."""
        with self.locate(path) as loc:
            try:
                fd = os.open(
                    loc.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=loc.parent_fd
                )
            except OSError as exc:
                raise translate(exc, loc.parts) from None
            try:
                info = os.fstat(fd)
                check_regular(info, loc.path)
                yield fd, info, loc.path
            finally:
                os.close(fd)


def check_regular(info: os.stat_result, path: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise InvalidPath(f"{path!r} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidPath(f"{path!r} is not a regular file")
    if info.st_nlink > 1:
        raise PathEscape(f"{path!r} has {info.st_nlink} hard links; refusing (it may be outside)")


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False  # absent or unreadable: the open that follows reports it


_ERRNO_ERRORS: dict[int, tuple[type[WfhubError], str]] = {
    errno.ENOENT: (NotFound, "does not exist"),
    errno.ELOOP: (PathEscape, "changed into a symlink while it was opened"),
    errno.EMLINK: (PathEscape, "changed into a symlink while it was opened"),
    errno.EISDIR: (InvalidPath, "is a directory"),
    errno.ENOTDIR: (NotFound, "has a parent that is not a directory"),
    errno.EACCES: (Forbidden, "is not accessible (permission denied)"),
    errno.EPERM: (Forbidden, "is not accessible (operation not permitted)"),
    errno.ENAMETOOLONG: (InvalidPath, "has a name that is too long"),
    errno.EINVAL: (Conflict, "changed while it was opened; try again"),
    errno.ENOTEMPTY: (Conflict, "is a non-empty directory"),
    errno.EEXIST: (Conflict, "already exists"),
}


def translate(exc: OSError, parts: list[str]) -> WfhubError:
    """The client-facing error for an OS error at `parts`."""
    where = join(parts) or "."
    error, text = _ERRNO_ERRORS.get(exc.errno or 0, (WorkspaceIOError, exc.strerror or "failed"))
    return error(f"{where!r} {text}")


@contextmanager
def os_errors(parts: list[str] | str) -> Iterator[None]:
    """Turn an OS error inside the block into the client-facing error for `parts`."""
    try:
        yield
    except OSError as exc:
        raise translate(exc, split_path(parts) if isinstance(parts, str) else parts) from None
