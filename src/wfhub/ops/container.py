"""The model server's container, through the Docker Engine API (the `docker` SDK).

Only used when `WFHUB_DOCKER_SOCKET` names the Engine's unix socket. The SDK is synchronous
(requests over the socket), so each call runs in a worker thread; a followed log stream is
read in a thread too and handed to the event loop line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from wfhub.config import Settings
from wfhub.errors import NotFound, UpstreamUnavailable
from wfhub.ops.logs import LogRecordDict
from wfhub.ops.restart import RestartFailed, RestartMethod
from wfhub.security.redact import redact

API_SECONDS = 60.0
STOP_SECONDS = 10
_ERRORS = (docker.errors.DockerException, requests.RequestException, OSError)


class DockerEngine:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def _client(self) -> Any:
        return docker.DockerClient(base_url=f"unix://{self.socket}", timeout=API_SECONDS)

    def _call(self, work: Any) -> Any:
        try:
            client = self._client()
        except _ERRORS as exc:
            raise UpstreamUnavailable(f"Docker Engine at {self.socket}: {exc}") from exc
        with contextlib.closing(client):
            try:
                return work(client)
            except docker.errors.NotFound as exc:
                raise NotFound(f"no container {exc.explanation or ''}".strip()) from exc
            except _ERRORS as exc:
                raise UpstreamUnavailable(f"Docker Engine at {self.socket}: {exc}") from exc

    async def status(self, name: str) -> str:
        """The container's state (`running`, `exited`, ...), `not_found`, or `unreachable`."""
        try:
            return str(await asyncio.to_thread(self._call, lambda c: c.containers.get(name).status))
        except NotFound:
            return "not_found"
        except UpstreamUnavailable:
            return "unreachable"

    async def restart(self, name: str) -> None:
        await asyncio.to_thread(
            self._call, lambda c: c.containers.get(name).restart(timeout=STOP_SECONDS)
        )

    async def containers(self) -> list[tuple[str, str]]:
        """(name, state) of every container the Engine knows."""

        def listing(client: Any) -> list[tuple[str, str]]:
            found = client.containers.list(all=True, sparse=True)
            return [
                (str(c.attrs["Names"][0]).lstrip("/"), str(c.attrs.get("State", "unknown")))
                for c in found
            ]

        return list(await asyncio.to_thread(self._call, listing))

    async def logs(
        self, name: str, tail: int, since: datetime | None, follow: bool
    ) -> AsyncIterator[LogRecordDict]:
        """The container's output as log records, oldest first; `follow` keeps it open."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[LogRecordDict | BaseException | None] = asyncio.Queue(1000)
        stop = threading.Event()

        def put(item: LogRecordDict | BaseException | None) -> None:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

        def read(client: Any) -> None:
            stream = client.containers.get(name).logs(
                stream=True, follow=follow, timestamps=True, tail=tail, since=since
            )
            with contextlib.closing(stream):
                for line in _lines(stream):
                    if stop.is_set():
                        return
                    put(_record(name, line))

        def run() -> None:
            try:
                self._call(read)
            except BaseException as exc:  # handed to the reader, raised there
                put(exc)
            else:
                put(None)

        thread = threading.Thread(target=run, name=f"docker-logs-{name}", daemon=True)
        thread.start()
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    rest = b""
    for chunk in chunks:
        *complete, rest = (rest + chunk).split(b"\n")
        yield from (line.decode("utf-8", "replace") for line in complete if line.strip())
    if rest.strip():
        yield rest.decode("utf-8", "replace")


def _record(name: str, line: str) -> LogRecordDict:
    stamp, _, message = line.partition(" ")
    return {"ts": stamp, "level": "info", "logger": f"container:{name}", "message": redact(message)}


class ContainerRestart(RestartMethod):
    """Restarts `WFHUB_OLLAMA_CONTAINER` through the Engine at `WFHUB_DOCKER_SOCKET`."""

    name = "container"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def unavailable(self) -> str | None:
        return None if self.settings.docker_socket else "WFHUB_DOCKER_SOCKET is not set"

    async def restart(self) -> str:
        assert self.settings.docker_socket is not None
        name = self.settings.ollama_container
        try:
            await DockerEngine(self.settings.docker_socket).restart(name)
        except (NotFound, UpstreamUnavailable) as exc:
            raise RestartFailed(f"container {name!r}: {exc.detail}") from exc
        return f"restarted container {name!r}"
