"""A shell on a pseudo-terminal, in the project's workspace, inside the sandbox.

The PTY is created here and its slave side becomes the controlling terminal of a new
session (`setsid --ctty`), so the shell has job control and gets SIGWINCH on resize.
bubblewrap runs without `--new-session` for that reason; the only terminal the sandboxed
shell could push input into is its own. Closing kills the process group; inside
bubblewrap the PID namespace dies with it, so background jobs and daemons end too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import struct
import termios
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from wfhub.errors import TooManyTerminals
from wfhub.sandbox.policy import Sandbox, environment
from wfhub.sandbox.process import limited, terminate

READ_LIMIT = 256 * 1024  # bytes read ahead from the PTY before reading pauses (back-pressure)
TERM = "xterm-256color"
MAX_DIMENSION = 1000


def shell() -> list[str]:
    return ["/bin/bash", "-i"] if shutil.which("bash") else ["/bin/sh", "-i"]


class Terminal:
    def __init__(
        self,
        process: asyncio.subprocess.Process,
        master: int,
        reader: asyncio.StreamReader,
        transport: asyncio.ReadTransport,
    ) -> None:
        self.process = process
        self._master = master
        self._reader = reader
        self._transport = transport
        self._closed = False

    @classmethod
    async def open(
        cls, sandbox: Sandbox, workspace: Path, memory_bytes: int, cols: int, rows: int
    ) -> Self:
        master, slave = os.openpty()
        try:
            _set_size(slave, cols, rows)
            command = limited(
                ["setsid", "--ctty", *sandbox.command(shell(), workspace, new_session=False)],
                memory_bytes,
                cpu_seconds=None,
            )
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=environment(term=TERM),
                cwd=workspace,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_LIMIT, loop=loop)
        # The transport owns a duplicate, so closing it never closes the fd we write to.
        pipe = os.fdopen(os.dup(master), "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        return cls(process, master, reader, transport)

    async def read(self) -> bytes:
        """Output as it comes; b"" once the shell and everything on the PTY has exited."""
        try:
            return await self._reader.read(65536)
        except OSError:  # EIO: the slave side is closed
            return b""

    async def write(self, data: bytes) -> None:
        """Send keystrokes; waits (without blocking the loop) while the PTY's buffer is full."""
        view = memoryview(data)
        while view and not self._closed:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            view = view[written:]

    def resize(self, cols: int, rows: int) -> None:
        _set_size(self._master, cols, rows)

    async def close(self) -> int | None:
        """Kill the shell's whole process group, reap it, release the PTY."""
        if not self._closed:
            self._closed = True
            await terminate(self.process)
            self._transport.close()
            self._reader.feed_eof()
            with contextlib.suppress(OSError):
                os.close(self._master)
        return self.process.returncode


class TerminalSlots:
    """Open terminals per user (credential), capped."""

    def __init__(self) -> None:
        self.open = Counter[str]()

    @contextlib.contextmanager
    def take(self, user: str, limit: int) -> Iterator[None]:
        if self.open[user] >= limit:
            raise TooManyTerminals(f"{limit} terminals are open already; close one first")
        self.open[user] += 1
        try:
            yield
        finally:
            self.open[user] -= 1
            if not self.open[user]:
                del self.open[user]


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
