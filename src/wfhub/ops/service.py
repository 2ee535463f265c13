"""Model-server operations: status of every host and restarts of the managed one.

The managed model server is the one `Settings.model_server_url` names: the embedded server
when no Ollama host is configured, else the first of `WFHUB_OLLAMA_URLS`. The restart
methods all act on it (the SSH and container settings describe that host); the status covers
every backend the gateway routes to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from wfhub.config import Settings
from wfhub.llm.backends import Backend, BackendPool
from wfhub.ops.container import ContainerRestart, DockerEngine
from wfhub.ops.probe import ProbeResult, generation_probe
from wfhub.ops.restart import LocalRestart, RestartCoordinator, RestartMethod, RestartOutcome
from wfhub.ops.schemas import (
    AttemptRead,
    HostStatus,
    OllamaStatus,
    ProbeRead,
    RestartRead,
    ServiceStatus,
    SupervisorRead,
)
from wfhub.ops.ssh import SshRestart
from wfhub.ops.supervisor import ChildSupervisor


def _methods(settings: Settings, supervisor: ChildSupervisor | None) -> list[RestartMethod]:
    made: dict[str, RestartMethod] = {
        "local": LocalRestart(supervisor),
        "ssh": SshRestart(settings),
        "container": ContainerRestart(settings),
    }
    return [made[name] for name in settings.restart_methods]


class ModelServerOps:
    def __init__(
        self,
        settings: Settings,
        pool: BackendPool,
        supervisor: ChildSupervisor | None,
        client: httpx.AsyncClient,
        refresh: Callable[[], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.supervisor = supervisor
        self.client = client
        url = settings.model_server_url
        self.target = next((b for b in pool.backends if b.url == url), None)
        managed = self.target or Backend("managed", url, "ollama")
        self.restarts = RestartCoordinator(
            _methods(settings, supervisor),
            self.target,
            lambda deadline: self.probe(managed, deadline),
            settings.restart_ready_seconds,
            refresh,
        )

    async def probe(self, backend: Backend, deadline: float | None = None) -> ProbeResult:
        seconds = deadline if deadline is not None else self.settings.model_probe_seconds
        return await generation_probe(
            self.client, backend, self.settings.default_model, min(seconds, 3600)
        )

    async def restart(self, only: str | None) -> RestartRead:
        return restart_read(await self.restarts.restart(only))

    async def status(self) -> OllamaStatus:
        """Probe every host at once (1-token generations under the probe deadline)."""
        docker = DockerEngine(self.settings.docker_socket) if self.settings.docker_socket else None
        probes = await asyncio.gather(*(self.probe(b) for b in self.pool.backends))
        container = await docker.status(self.settings.ollama_container) if docker else None
        hosts = [
            self._host(b, p, container if b is self.target else None)
            for b, p in zip(self.pool.backends, probes, strict=True)
        ]
        managed = next((h for h in hosts if h.managed), None)
        last = self.restarts.last
        return OllamaStatus(
            container_status=container or "not_configured",
            service_status=managed.service_status if managed else "down",
            models_loaded=managed.models_loaded if managed else [],
            url=self.settings.model_server_url,
            restart_in_progress=self.restarts.in_progress,
            restart_methods=self.restarts.available(),
            last_restart=restart_read(last) if last else None,
            hosts=hosts,
        )

    def _host(self, backend: Backend, probe: ProbeResult, container: str | None) -> HostStatus:
        managed = backend is self.target
        status: ServiceStatus = "healthy" if probe.ok else "unhealthy"
        if not probe.ok and not probe.reachable:
            status = "down"
        if managed and self.restarts.in_progress:
            status = "restarting"
        supervisor = self.supervisor if managed else None
        return HostStatus(
            name=backend.name,
            url=backend.url,
            kind=backend.kind,
            managed=managed,
            service_status=status,
            container_status=container,
            models_available=probe.models_available,
            models_loaded=probe.models_loaded,
            probe=ProbeRead(
                ok=probe.ok, model=probe.model, duration_ms=probe.duration_ms, detail=probe.detail
            ),
            supervisor=None
            if supervisor is None
            else SupervisorRead(
                state=supervisor.state,
                pid=supervisor.pid,
                restarts=supervisor.restarts,
                events=list(supervisor.events),
            ),
        )


def restart_read(outcome: RestartOutcome) -> RestartRead:
    return RestartRead(
        success=outcome.success,
        method=outcome.method,
        message=outcome.message,
        duration_seconds=outcome.duration_seconds,
        attempts=[AttemptRead(**vars(a)) for a in outcome.attempts],
        joined=outcome.joined,
    )
