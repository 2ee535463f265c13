"""The model hosts the gateway forwards to, their health, and which models each serves.

A background task asks every backend for its models (`/api/tags` for Ollama hosts, the
embedded server included; `/v1/models` for OpenAI-compatible servers) every
`REFRESH_SECONDS`. A request goes to the first healthy backend that lists its model, then to
the other healthy ones, then to the unhealthy ones as a last resort; a backend that refuses
the connection is marked down at once and the next one is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from wfhub.config import Settings

REFRESH_SECONDS = 10.0
PROBE_SECONDS = 3.0
BackendKind = Literal["ollama", "openai"]


@dataclass
class Backend:
    name: str
    url: str
    kind: BackendKind
    healthy: bool = True
    models: set[str] = field(default_factory=set)
    loaded: set[str] = field(default_factory=set)
    checked_at: float = 0.0
    error: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # cleared while restarting

    def __post_init__(self) -> None:
        self.ready.set()

    async def wait_ready(self, seconds: float) -> None:
        """Hold a request while this backend restarts, for up to `seconds`."""
        if not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.ready.wait()

    def serves(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models

    def target(self, path: str) -> str:
        """Upstream URL for a gateway path: `/api/...` (Ollama) or `/v1/...`."""
        return self.url + path


def configured_backends(settings: Settings) -> list[Backend]:
    backends = [
        Backend(f"ollama-{i}", url.rstrip("/"), "ollama")
        for i, url in enumerate(settings.ollama_urls, start=1)
    ]
    backends += [
        Backend(f"openai-{i}", url.rstrip("/").removesuffix("/v1"), "openai")
        for i, url in enumerate(settings.openai_urls, start=1)
    ]
    if not settings.ollama_urls:
        backends.insert(0, Backend("embedded", f"http://127.0.0.1:{settings.llm_port}", "ollama"))
    return backends


class BackendPool:
    def __init__(self, backends: list[Backend]) -> None:
        self.backends = backends
        self._task: asyncio.Task[None] | None = None

    def candidates(self, model: str | None, path: str) -> list[Backend]:
        """Backends to try for `model` on `path`, best first."""
        usable = [b for b in self.backends if b.kind == "ollama" or path.startswith("/v1/")]
        return sorted(
            usable,
            key=lambda b: (not b.healthy, not (model is not None and b.serves(model))),
        )

    def mark_down(self, backend: Backend, reason: str) -> None:
        backend.healthy = False
        backend.error = reason

    async def refresh(self, session: aiohttp.ClientSession) -> None:
        await asyncio.gather(*(self._probe(session, b) for b in self.backends))

    async def _probe(self, session: aiohttp.ClientSession, backend: Backend) -> None:
        path = "/api/tags" if backend.kind == "ollama" else "/v1/models"
        timeout = aiohttp.ClientTimeout(total=PROBE_SECONDS)
        try:
            async with session.get(backend.url + path, timeout=timeout) as response:
                body = await response.json(content_type=None)
                if response.status >= 400:
                    raise ValueError(f"answered {response.status}")
            key = "models" if backend.kind == "ollama" else "data"
            entries = body.get(key) or []
            names = {str(e.get("model") or e.get("name") or e.get("id")) for e in entries}
            backend.models, backend.healthy, backend.error = names, True, None
            if backend.kind == "ollama":
                async with session.get(backend.url + "/api/ps", timeout=timeout) as running:
                    ps = await running.json(content_type=None) if running.status < 400 else {}
                backend.loaded = {
                    str(e.get("model") or e.get("name")) for e in ps.get("models") or []
                }
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
            self.mark_down(backend, f"{type(exc).__name__}: {exc}".rstrip(": "))
        backend.checked_at = time.time()

    def start(self, session: aiohttp.ClientSession) -> None:
        async def loop() -> None:
            while True:
                await self.refresh(session)
                await asyncio.sleep(REFRESH_SECONDS)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
