"""Files in a workspace: list, tree, read, write (atomic, optimistic), mkdir, move, delete.

Blocking calls: the endpoints run them in worker threads. Paths go through `Workspace`, so
every operation is confined at open time.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from wfhub.errors import AlreadyExists, Conflict, InvalidInput, InvalidPath, StaleWrite
from wfhub.workspace import content
from wfhub.workspace.git_status import Badges
from wfhub.workspace.paths import Workspace, check_regular, join, os_errors, split_path

PAGE_LIMIT = 1000
TREE_MAX_ENTRIES = 5000
_CHUNK = 1 << 16
HASH_LIMIT = 16 << 20


@dataclass(frozen=True)
class EntryInfo:
    name: str
    path: str
    type: str  # file | dir | symlink | other
    size: int
    mtime: float

    def as_dict(self, badges: dict[str, str]) -> dict[str, Any]:
        badge = badges.get(self.name)
        return {
            "name": self.name,
            "path": self.path,
            "type": self.type,
            "size": self.size,
            "mtime": self.mtime,
            "git": None if badge == "ignored" else badge,
            "ignored": badge == "ignored",
        }


def _entry_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _scan(fd: int, directory: str) -> list[EntryInfo]:
    entries = []
    with os.scandir(fd) as scan:
        for item in scan:
            try:
                info = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we listed
            path = f"{directory}/{item.name}" if directory else item.name
            entries.append(
                EntryInfo(item.name, path, _entry_type(info.st_mode), info.st_size, info.st_mtime)
            )
    return entries


def _sort_key(entry: EntryInfo) -> tuple[int, str]:
    return (0 if entry.type == "dir" else 1, entry.name)


def encode_cursor(entry: EntryInfo) -> str:
    key = f"{_sort_key(entry)[0]}/{entry.name}".encode("utf-8", "surrogateescape")
    return base64.urlsafe_b64encode(key).decode()


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode("utf-8", "surrogateescape")
        rank, _, name = raw.partition("/")
        return int(rank), name
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this server returned") from None


def list_dir(
    ws: Workspace,
    path: str,
    *,
    snapshot: Badges | None,
    cursor: str | None = None,
    limit: int = PAGE_LIMIT,
    hide_ignored: bool = False,
) -> dict[str, Any]:
    """One page of a directory: folders first, then files, by name; `next_cursor` continues.
    Git badges come from `snapshot` (None outside a repository)."""
    with ws.directory(path) as (fd, resolved), os_errors(resolved):
        entries = sorted(_scan(fd, resolved), key=_sort_key)
    badges = snapshot.for_dir(resolved) if snapshot is not None else {}
    if hide_ignored:
        entries = [e for e in entries if badges.get(e.name) != "ignored" and e.name != ".git"]
    if cursor is not None:
        after = _decode_cursor(cursor)
        entries = [e for e in entries if _sort_key(e) > after]
    page = entries[:limit]
    more = len(entries) > limit
    return {
        "path": resolved,
        "items": [e.as_dict(badges) for e in page],
        "next_cursor": encode_cursor(page[-1]) if more and page else None,
    }


def tree(
    ws: Workspace, path: str, *, depth: int, max_entries: int = TREE_MAX_ENTRIES
) -> dict[str, Any]:
    """Nested listing to `depth` levels (symlinks not followed, `.git` skipped)."""
    count = 0
    truncated = False

    def walk(fd: int, directory: str, level: int) -> list[dict[str, Any]]:
        nonlocal count, truncated
        nodes: list[dict[str, Any]] = []
        for entry in sorted(_scan(fd, directory), key=_sort_key):
            if entry.name == ".git":
                continue
            if count >= max_entries:
                truncated = True
                break
            count += 1
            node: dict[str, Any] = {"name": entry.name, "path": entry.path, "type": entry.type}
            if entry.type == "dir" and level < depth:
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                child = os.open(entry.name, flags, dir_fd=fd)
                try:
                    node["children"] = walk(child, entry.path, level + 1)
                finally:
                    os.close(child)
            nodes.append(node)
        return nodes

    with ws.directory(path) as (fd, resolved), os_errors(resolved):
        children = walk(fd, resolved, 1)
    return {"path": resolved, "children": children, "truncated": truncated}


def version_of(fd: int) -> str:
    """The version clients echo back on writes: the sha256 of the content, or for files over
    `HASH_LIMIT` (not editable through the API anyway) their inode, mtime and size."""
    info = os.fstat(fd)
    if info.st_size > HASH_LIMIT:
        return f"stat-{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}"
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def read(
    ws: Workspace, path: str, *, offset: int, length: int | None, max_bytes: int
) -> dict[str, Any]:
    """A file's content and metadata; text decoded, large files refused with the way round."""
    with ws.open_file(path) as (fd, info, resolved), os_errors(resolved):
        size = info.st_size
        window = size - offset if length is None else length
        sample = os.pread(fd, content.SNIFF_BYTES, 0)
        kind = content.kind_of(resolved, sample)
        result: dict[str, Any] = {
            "path": resolved,
            "size": size,
            "mtime": info.st_mtime,
            "version": version_of(fd),
            "kind": kind.name,
            "media_type": kind.media_type,
            "language": content.language_of(resolved, sample) if kind.name == "text" else None,
            "encoding": None,
            "content": None,
            "offset": offset,
            "length": 0,
            "too_large": False,
        }
        if kind.name != "text":
            return result
        if window > max_bytes:
            result["too_large"] = True
            result["detail"] = (
                f"{size} bytes is more than {max_bytes}; read it in ranges with offset and "
                f"length (at most {max_bytes}) or download it with raw=true"
            )
            return result
        data = os.pread(fd, max(window, 0), offset)
        encoding = content.detect_encoding(sample)
        result.update(
            encoding=encoding,
            content=data.decode(encoding, "replace"),
            length=len(data),
        )
        return result


def open_for_download(ws: Workspace, path: str) -> tuple[BinaryIO, os.stat_result, str]:
    """The confined file as an unbuffered handle of its own, to stream after the request's
    checks; a handle (unlike a bare fd) is closed even if the stream never starts."""
    with ws.open_file(path) as (fd, info, resolved), os_errors(resolved):
        return os.fdopen(os.dup(fd), "rb", buffering=0), info, resolved


def iter_range(handle: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
    """`length` bytes from `offset` in chunks; closes the handle when done or abandoned."""
    with handle:
        while length > 0:
            chunk = os.pread(handle.fileno(), min(_CHUNK, length), offset)
            if not chunk:
                return
            offset += len(chunk)
            length -= len(chunk)
            yield chunk


@contextmanager
def _locked(dir_fd: int) -> Iterator[None]:
    """Serialise writers in one directory, across processes too: check-then-replace is atomic."""
    fcntl.flock(dir_fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)


def write(
    ws: Workspace,
    path: str,
    data: bytes,
    *,
    expected_version: str | None = None,
    create_only: bool = False,
) -> dict[str, Any]:
    """Replace or create a file atomically (temp file, fsync, rename).

    `expected_version` is the version the client read: if the file changed since, nothing is
    written and `StaleWrite` (409) says so. `create_only` refuses to replace an existing file.
    """
    with ws.locate(path) as loc, os_errors(loc.parts), _locked(loc.parent_fd):
        current, mode = _current(loc.parent_fd, loc.name, loc.path)
        if current is not None and create_only:
            raise AlreadyExists(f"{loc.path!r} already exists")
        if expected_version is not None and expected_version != current:
            what = "was deleted" if current is None else "changed"
            raise StaleWrite(
                f"{loc.path!r} {what} since version {expected_version[:12]}; re-read it"
            )
        temp = f".{loc.name}.wfhub-{secrets.token_hex(6)}.tmp"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o644, dir_fd=loc.parent_fd)
        try:
            try:
                if mode is not None:
                    os.fchmod(fd, mode)  # an edited script stays executable
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                version = version_of(fd)
            finally:
                os.close(fd)
            os.rename(temp, loc.name, src_dir_fd=loc.parent_fd, dst_dir_fd=loc.parent_fd)
        except BaseException:
            os.unlink(temp, dir_fd=loc.parent_fd)
            raise
        return {
            "path": loc.path,
            "size": len(data),
            "version": version,
            "created": current is None,
        }


def _current(dir_fd: int, name: str, path: str) -> tuple[str | None, int | None]:
    """The version and permission bits of the file being replaced; (None, None) if absent."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None, None
    try:
        info = os.fstat(fd)
        check_regular(info, path)
        return version_of(fd), stat.S_IMODE(info.st_mode)
    finally:
        os.close(fd)


def mkdir(ws: Workspace, path: str) -> dict[str, Any]:
    """Create a directory and its missing parents inside the workspace."""
    parts = split_path(path)
    if not parts:
        raise InvalidPath("the workspace root already exists")
    for depth in range(1, len(parts) + 1):
        with ws.locate(join(parts[:depth])) as loc, os_errors(loc.parts):
            try:
                os.mkdir(loc.name, 0o755, dir_fd=loc.parent_fd)
            except FileExistsError:
                if not stat.S_ISDIR(os.stat(loc.name, dir_fd=loc.parent_fd).st_mode):
                    raise AlreadyExists(f"{loc.path!r} exists and is not a directory") from None
    return {"path": join(parts), "type": "dir"}


def delete(ws: Workspace, path: str, *, recursive: bool = False) -> None:
    """Delete a file, a symlink (not its target) or, with `recursive`, a directory tree."""
    with ws.locate(path, follow=False) as loc, os_errors(loc.parts):
        info = os.stat(loc.name, dir_fd=loc.parent_fd, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(loc.name, dir_fd=loc.parent_fd)
            return
        if not recursive:
            try:
                os.rmdir(loc.name, dir_fd=loc.parent_fd)
            except OSError as exc:
                if exc.errno != errno.ENOTEMPTY:
                    raise
                raise Conflict(
                    f"{loc.path!r} is a non-empty directory; send recursive=true"
                ) from None
            return
        # rmtree with dir_fd works on descriptors and never follows symlinks
        shutil.rmtree(loc.name, dir_fd=loc.parent_fd)


def move(ws: Workspace, source: str, target: str, *, overwrite: bool = False) -> dict[str, Any]:
    """Rename a file or directory within the workspace (the link itself for symlinks)."""
    with ws.locate(source, follow=False) as src, ws.locate(target, follow=False) as dst:
        if join(dst.parts[: len(src.parts)]) == src.path and len(dst.parts) > len(src.parts):
            raise InvalidInput("cannot move a directory into itself")
        with os_errors(src.parts):
            os.stat(src.name, dir_fd=src.parent_fd, follow_symlinks=False)
        exists = True
        try:
            os.stat(dst.name, dir_fd=dst.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            exists = False
        if exists and not overwrite:
            raise AlreadyExists(f"{dst.path!r} already exists; send overwrite=true to replace it")
        with os_errors(dst.parts):
            os.rename(src.name, dst.name, src_dir_fd=src.parent_fd, dst_dir_fd=dst.parent_fd)
        return {"path": dst.path, "from": src.path}
