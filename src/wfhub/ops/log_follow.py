"""Following a log file as it grows, across rotations, without loss or repeats.

The file is read from the offset its tail was taken at. New bytes are polled for (no inotify
in the standard library; a poll every `POLL_SECONDS` costs one fstat). When the path names a
new file (rotation renamed ours to `.1`) or the file shrank, what is left of the old handle is
read first, then the new file from its start. A line is only sent once its newline is there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from wfhub.ops.logs import LogRecordDict, parse_line

POLL_SECONDS = 0.1
READ_BYTES = 256 * 1024


class _Reader:
    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.handle: int | None = None
        self.inode = 0
        self.partial = b""
        self._open(offset)

    def _open(self, offset: int) -> None:
        try:
            self.handle = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            self.handle = None
            return
        stat = os.fstat(self.handle)
        self.inode = stat.st_ino
        os.lseek(self.handle, min(offset, stat.st_size), os.SEEK_SET)

    def _drain(self) -> bytes:
        chunks = []
        while self.handle is not None and (chunk := os.read(self.handle, READ_BYTES)):
            chunks.append(chunk)
        return b"".join(chunks)

    def read(self) -> list[str]:
        data = self._drain()
        if not data and self._replaced():
            if self.handle is not None:
                os.close(self.handle)
            self.partial = b""
            self._open(0)
            data = self._drain()
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines if line.strip()]

    def _replaced(self) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        if self.handle is None:
            return True
        return stat.st_ino != self.inode or stat.st_size < os.lseek(self.handle, 0, os.SEEK_CUR)

    def close(self) -> None:
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


async def follow_file(path: Path, offset: int) -> AsyncIterator[LogRecordDict]:
    """Lines appended to `path` after `offset`, as they arrive, until the caller stops."""
    reader = _Reader(path, offset)
    try:
        while True:
            lines = reader.read()
            for line in lines:
                yield parse_line(line)
            if not lines:
                await asyncio.sleep(POLL_SECONDS)
    finally:
        reader.close()
