"""A fake Docker Engine for the container restart and log tests: a separate process that
speaks the Engine API's HTTP on a unix socket, as the `docker` SDK expects it.

No Docker engine runs on this machine, so the one "container" here is a real child process
(the command after `--`) that this server starts, restarts and stops; its output is the
container's log, served in the Engine's multiplexed stream format (8-byte frame headers).
Run: python -m tests.fake_docker SOCKET NAME -- COMMAND...
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

API_VERSION = "1.45"
CONTAINER_ID = "f" * 64


class Container:
    def __init__(self, name: str, command: list[str]) -> None:
        self.name, self.command = name, command
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[tuple[str, int, bytes]] = []  # (timestamp, stream 1|2, line)
        self.changed = asyncio.Condition()
        self.restarts = 0
        self.started_at = ""

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        self.started_at = datetime.now(UTC).isoformat()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        for stream, reader in ((1, self.process.stdout), (2, self.process.stderr)):
            asyncio.get_running_loop().create_task(self._collect(stream, reader))

    async def _collect(self, stream: int, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            async with self.changed:
                self.lines.append((stamp, stream, line))
                self.changed.notify_all()

    async def stop(self, seconds: float) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            process.kill()
            await process.wait()

    @property
    def state(self) -> str:
        running = self.process is not None and self.process.returncode is None
        return "running" if running else "exited"


class _Holder:
    container: Container


HOLDER = _Holder()  # set by main() before the server starts


def _missing(name: str) -> Response:
    return JSONResponse({"message": f"No such container: {name}"}, status_code=404)


def _known(name: str) -> bool:
    return name in {HOLDER.container.name, CONTAINER_ID, CONTAINER_ID[:12]}


async def ping(_: Request) -> Response:
    return PlainTextResponse("OK")


async def version(_: Request) -> Response:
    return JSONResponse(
        {
            "ApiVersion": API_VERSION,
            "MinAPIVersion": "1.24",
            "Version": "27.0.0-fake",
            "Os": "linux",
            "Arch": "amd64",
        }
    )


async def listing(_: Request) -> Response:
    entry = {"Id": CONTAINER_ID, "Names": [f"/{HOLDER.container.name}"], "Image": "ollama/ollama",
             "State": HOLDER.container.state, "Status": HOLDER.container.state}  # fmt: skip
    return JSONResponse([entry])


async def inspect(request: Request) -> Response:
    name = request.path_params["name"]
    if not _known(name):
        return _missing(name)
    container = HOLDER.container
    pid = container.process.pid if container.process else 0
    state = {
        "Status": container.state,
        "Running": container.state == "running",
        "Pid": pid,
        "StartedAt": container.started_at,
    }
    return JSONResponse(
        {
            "Id": CONTAINER_ID,
            "Name": f"/{container.name}",
            "State": state,
            "Config": {"Tty": False, "Image": "ollama/ollama"},
            "RestartCount": container.restarts,
        }
    )


async def restart(request: Request) -> Response:
    name = request.path_params["name"]
    if not _known(name):
        return _missing(name)
    await HOLDER.container.stop(float(request.query_params.get("t", "10")))
    await HOLDER.container.start()
    HOLDER.container.restarts += 1
    return Response(status_code=204)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()


async def _wait_beyond(count: int) -> None:
    container = HOLDER.container
    async with container.changed:
        await container.changed.wait_for(lambda: len(container.lines) > count)


def _frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


async def logs(request: Request) -> Response:
    name = request.path_params["name"]
    if not _known(name):
        return _missing(name)
    params = request.query_params
    follow = params.get("follow") in {"1", "true"}
    stamps = params.get("timestamps") in {"1", "true"}
    tail = params.get("tail", "all")
    since = float(params.get("since", "0") or 0)

    def selected(upto: int) -> list[tuple[str, int, bytes]]:
        chosen = [e for e in HOLDER.container.lines[:upto] if _epoch(e[0]) >= since]
        if tail == "all":
            return chosen
        return chosen[len(chosen) - int(tail) :] if int(tail) else []

    async def frames() -> AsyncIterator[bytes]:
        sent = len(HOLDER.container.lines)
        for stamp, stream, line in selected(sent):
            yield _frame(stream, (f"{stamp} ".encode() if stamps else b"") + line)
        while follow:
            await _wait_beyond(sent)
            for stamp, stream, line in HOLDER.container.lines[sent:]:
                yield _frame(stream, (f"{stamp} ".encode() if stamps else b"") + line)
            sent = len(HOLDER.container.lines)

    return StreamingResponse(frames(), media_type="application/vnd.docker.multiplexed-stream")


async def stats(_: Request) -> Response:
    process = HOLDER.container.process
    return JSONResponse(
        {"restarts": HOLDER.container.restarts, "pid": process.pid if process else None}
    )


@contextlib.asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    await HOLDER.container.start()
    yield
    await HOLDER.container.stop(1)


routes = Starlette(
    routes=[
        Route("/_ping", ping),
        Route("/version", version),
        Route("/containers/json", listing),
        Route("/containers/{name}/json", inspect),
        Route("/containers/{name}/restart", restart, methods=["POST"]),
        Route("/containers/{name}/logs", logs),
        Route("/_stats", stats),
    ],
    lifespan=lifespan,
)
VERSIONED = re.compile(r"^/v\d+\.\d+(/.*)$")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The Engine serves every route with and without a `/v1.NN` prefix."""
    if scope["type"] == "http" and (match := VERSIONED.match(scope["path"])):
        scope = {**scope, "path": match.group(1)}
    await routes(scope, receive, send)


def main(argv: list[str]) -> None:
    socket, name, separator, *command = argv
    assert separator == "--", __doc__
    HOLDER.container = Container(name, command)
    uvicorn.run(app, uds=socket, log_level="warning", timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main(sys.argv[1:])
