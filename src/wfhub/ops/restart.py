"""Restarting the model server: the methods (a plug-in point) and the one coordinator.

A restart method knows one way to bring the model server back: `local` (the supervisor in
`wfhub serve` restarts its child), `ssh` (run the host's restart script over SSH), `container`
(restart the model server's container through the Docker Engine). The coordinator tries them
in `WFHUB_RESTART_METHODS` order, skipping those not configured, and a method only succeeds
when the server then answers a 1-token generation within `WFHUB_RESTART_READY_SECONDS`. One
restart runs at a time: a request arriving during one joins it and gets its outcome. While it
runs, the gateway holds requests for that server (up to `WFHUB_RESTART_WAIT_SECONDS`).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from wfhub.errors import RestartNotConfigured
from wfhub.llm.backends import Backend
from wfhub.ops.probe import ProbeResult
from wfhub.ops.supervisor import ChildSupervisor

log = logging.getLogger(__name__)
CONFIRM_POLL_SECONDS = 0.1


class RestartFailed(Exception):
    """A method could not restart the server; the message says why, for the operator."""


class RestartMethod(abc.ABC):
    """One way to restart the model server. Implementations: `LocalRestart` (below),
    `ssh.SshRestart`, `container.ContainerRestart`."""

    name: ClassVar[str]

    @abc.abstractmethod
    def unavailable(self) -> str | None:
        """Why this method cannot be used here (not configured), or None when it can."""

    @abc.abstractmethod
    async def restart(self) -> str:
        """Make the server restart; return what was done. Raise `RestartFailed`. Waiting
        for the server to answer again is the coordinator's job, not the method's."""


@dataclass(frozen=True)
class Attempt:
    method: str
    success: bool
    message: str
    duration_seconds: float


@dataclass(frozen=True)
class RestartOutcome:
    success: bool
    method: str | None
    message: str
    duration_seconds: float
    attempts: list[Attempt] = field(default_factory=list)
    joined: bool = False


Prober = Callable[[float], Awaitable[ProbeResult]]


class RestartCoordinator:
    def __init__(
        self,
        methods: list[RestartMethod],
        target: Backend | None,
        probe: Prober,
        ready_seconds: float,
        after: Callable[[], Awaitable[None]],
    ) -> None:
        self.methods = {m.name: m for m in methods}
        self.order = [m.name for m in methods]
        self.target = target
        self.last: RestartOutcome | None = None
        self._probe = probe
        self._ready_seconds = ready_seconds
        self._after = after
        self._running: asyncio.Task[RestartOutcome] | None = None

    @property
    def in_progress(self) -> bool:
        return self._running is not None and not self._running.done()

    def available(self) -> list[str]:
        return [name for name in self.order if self.methods[name].unavailable() is None]

    async def restart(self, only: str | None = None) -> RestartOutcome:
        """Restart with `only` that method, or the configured order; join one in progress."""
        if only is not None:
            method = self.methods.get(only)
            reason = "not enabled in WFHUB_RESTART_METHODS" if method is None else None
            reason = reason or (method.unavailable() if method is not None else None)
            if reason is not None:
                raise RestartNotConfigured(f"restart method {only!r} is unavailable: {reason}")
        running = self._running
        if running is not None and not running.done():
            outcome = await asyncio.shield(running)
            return RestartOutcome(
                outcome.success,
                outcome.method,
                outcome.message,
                outcome.duration_seconds,
                outcome.attempts,
                joined=True,
            )
        names = [only] if only is not None else self.available()
        if not names:
            raise RestartNotConfigured(
                "no restart method is configured (see docs/operations.md: local needs the "
                "embedded server under `wfhub serve`, ssh WFHUB_SSH_HOST, container "
                "WFHUB_DOCKER_SOCKET)"
            )
        self._running = asyncio.get_running_loop().create_task(self._run(names))
        return await asyncio.shield(self._running)

    async def _run(self, names: list[str]) -> RestartOutcome:
        started = time.monotonic()
        attempts: list[Attempt] = []
        if self.target is not None:
            self.target.ready.clear()
        try:
            for name in names:
                attempts.append(await self._attempt(self.methods[name]))
                if attempts[-1].success:
                    await self._after()
                    break
        finally:
            if self.target is not None:
                self.target.ready.set()
        last = attempts[-1]
        outcome = RestartOutcome(
            last.success,
            last.method,
            last.message
            if last.success
            else "; ".join(f"{a.method}: {a.message}" for a in attempts),
            round(time.monotonic() - started, 3),
            attempts,
        )
        log.log(
            logging.INFO if outcome.success else logging.WARNING,
            "model server restart %s: %s",
            "succeeded" if outcome.success else "failed",
            outcome.message,
        )
        self.last = outcome
        return outcome

    async def _attempt(self, method: RestartMethod) -> Attempt:
        started = time.monotonic()
        try:
            done = await method.restart()
            probe = await self._confirm()
        except RestartFailed as exc:
            return Attempt(method.name, False, str(exc), round(time.monotonic() - started, 3))
        took = round(time.monotonic() - started, 3)
        if not probe.ok:
            return Attempt(
                method.name,
                False,
                f"{done}, but the server did not generate ({probe.detail})",
                took,
            )
        return Attempt(method.name, True, f"{done}; {probe.detail}", took)

    async def _confirm(self) -> ProbeResult:
        """Probe until the server generates or the ready deadline passes (or it answers
        with no model at all, which waiting does not mend)."""
        deadline = time.monotonic() + self._ready_seconds
        while True:
            left = deadline - time.monotonic()
            result = await self._probe(max(left, 0.1))
            if result.ok or result.empty or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(CONFIRM_POLL_SECONDS)


class LocalRestart(RestartMethod):
    """The embedded model server, a child supervised by this `wfhub serve`."""

    name = "local"

    def __init__(self, supervisor: ChildSupervisor | None) -> None:
        self.supervisor = supervisor

    def unavailable(self) -> str | None:
        if self.supervisor is None:
            return (
                "this process supervises no model server (Ollama hosts are configured, or "
                "wfhub runs without `wfhub serve`)"
            )
        return None

    async def restart(self) -> str:
        assert self.supervisor is not None
        old = self.supervisor.pid
        await asyncio.to_thread(self.supervisor.restart)
        return f"stopped the embedded model server (pid {old}); the supervisor started it again"


def _summary(attempts: list[Attempt]) -> str:
    return "; ".join(f"{a.method}: {a.message}" for a in attempts)
