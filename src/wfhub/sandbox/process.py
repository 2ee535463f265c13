"""Run one sandboxed command to completion with time, memory and output limits.

The command runs in its own process group under `prlimit` (address space, CPU seconds) and
bubblewrap. On timeout or cancellation the whole group is killed; inside bubblewrap the PID
namespace dies with it, so processes that daemonized or started their own session go too.
Output (stdout and stderr interleaved, as a terminal shows them) is kept up to a cap; the
rest is read and dropped so the command never blocks on a full pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wfhub.sandbox.policy import NO_MOUNTS, Mounts, Sandbox, environment

READ_CHUNK = 65536
DRAIN_SECONDS = 1.0
REAP_TRIES = 20
REAP_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 120.0
    memory_bytes: int = 4096 * 1024 * 1024
    output_bytes: int = 256 * 1024


@dataclass(frozen=True)
class Completed:
    exit_code: int | None  # None when the command was killed on its timeout
    output: str
    truncated: bool
    timed_out: bool
    seconds: float


def limited(argv: Sequence[str], memory_bytes: int, cpu_seconds: int | None) -> list[str]:
    """`argv` under `prlimit` (util-linux): the limits hold for everything it starts."""
    limits = [f"--as={memory_bytes}"]
    if cpu_seconds is not None:
        limits.append(f"--cpu={cpu_seconds}")
    return ["prlimit", *limits, "--", *argv]


def kill_group(pid: int) -> None:
    """Kill the process and the group it leads. The process itself first: one that has not
    reached its `setsid` yet leads no group, and killing only the group would miss it."""
    for kill in (os.kill, os.killpg):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)


async def terminate(process: asyncio.subprocess.Process) -> None:
    """Kill a sandboxed process tree and reap it, leaving no zombie behind.

    bubblewrap's child is the sandbox's PID 1; killing it ends every process in the
    sandbox, and bubblewrap, its parent, reaps it and exits. Killing bubblewrap first would
    orphan that child to the host's init, which may take its time reaping it."""
    for _ in range(REAP_TRIES):
        if process.returncode is not None:
            break
        # Read the children again each time: a sandbox still starting may fork its PID 1 late.
        for child in _children(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), REAP_POLL_SECONDS)
    kill_group(process.pid)  # unsandboxed commands, and anything left in the group
    await process.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


async def run(
    sandbox: Sandbox,
    argv: Sequence[str],
    workspace: Path,
    limits: Limits,
    *,
    mounts: Mounts = NO_MOUNTS,
    env: Mapping[str, str] | None = None,
    on_output: Callable[[bytes], Awaitable[None]] | None = None,
) -> Completed:
    """Run `argv` in `workspace`; never raises for the command's own failures.

    `env` adds to the clean environment; `on_output` sees every chunk as it arrives (the
    whole output, past the kept cap too), for callers that stream it."""
    command = limited(
        sandbox.command(argv, workspace, mounts=mounts),
        limits.memory_bytes,
        int(limits.timeout_seconds) + 1,
    )
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**environment(), "HOME": sandbox.home_directory(mounts), **(env or {})},
        cwd=workspace,
        start_new_session=True,
    )
    assert process.stdout is not None
    kept = bytearray()
    dropped = False

    async def collect() -> None:
        nonlocal dropped
        assert process.stdout is not None
        while chunk := await process.stdout.read(READ_CHUNK):
            if on_output is not None:
                await on_output(chunk)
            room = limits.output_bytes - len(kept)
            kept.extend(chunk[: max(room, 0)])
            dropped = dropped or len(chunk) > room

    reader = asyncio.create_task(collect())
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), limits.timeout_seconds)
    except TimeoutError:
        timed_out = True
    finally:
        # Also on cancellation: nothing the command started outlives it.
        await terminate(process)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_SECONDS)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return Completed(
        exit_code=None if timed_out else process.returncode,
        output=kept.decode("utf-8", errors="replace"),
        truncated=dropped,
        timed_out=timed_out,
        seconds=time.monotonic() - started,
    )
