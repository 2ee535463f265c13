"""Service logs: rotating JSON-lines files, redaction, tail/since, and the live WebSocket."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.live_server import LiveServer, live_server, websocket_refusal
from wfhub.config import Settings
from wfhub.ops.log_follow import follow_file
from wfhub.ops.logs import file_handler, log_path, tail

pytestmark = pytest.mark.filesystem
SECRET = "wfh_" + "s3cr3tT0kenValue" * 2


@pytest.fixture
def logger(settings: Settings) -> Iterator[logging.Logger]:
    """A logger writing into `main-api`'s file with tiny rotation, as `wfhub serve` would."""
    small = settings.model_copy(update={"log_max_bytes": 4096, "log_backups": 3})
    handler = file_handler(small, "main-api")
    log = logging.getLogger("wfhub.test-logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log
    log.removeHandler(handler)
    handler.close()


def test_lines_are_json_and_secrets_are_redacted(
    logger: logging.Logger, settings: Settings
) -> None:
    logger.info("calling upstream with Bearer %s", SECRET)
    try:
        raise ValueError(f"api_key={SECRET}")
    except ValueError:
        logger.exception("request failed")
    text = log_path(settings, "main-api").read_text()
    assert SECRET not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["message"] == "calling upstream with Bearer ***"
    assert first["level"] == "info"
    assert first["logger"] == "wfhub.test-logs"
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert second["level"] == "error"
    assert "api_key=***" in second["exc"]


def test_tail_spans_rotated_files_and_since_filters(
    logger: logging.Logger, settings: Settings
) -> None:
    for n in range(200):
        logger.info("line %03d", n)
    path = log_path(settings, "main-api")
    assert path.with_name("main-api.log.1").exists()  # it rotated
    lines, _ = tail(path, 60, None)
    assert [line["message"] for line in lines] == [f"line {n:03d}" for n in range(140, 200)]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert tail(path, 60, future)[0] == []
    assert len(tail(path, 500, None)[0]) < 200  # older files past log_backups are gone


async def test_follow_reads_across_rotation_in_order(
    logger: logging.Logger, settings: Settings
) -> None:
    path = log_path(settings, "main-api")
    logger.info("before")
    _, offset = tail(path, 10, None)
    received: list[str] = []

    async def collect() -> None:
        async for entry in follow_file(path, offset):
            received.append(entry["message"])
            if len(received) == 150:
                return

    reader = asyncio.create_task(collect())
    for n in range(150):
        logger.info("after %03d %s", n, "x" * 40)  # ~100 bytes: rotates every ~40 lines
        if n % 10 == 0:
            await asyncio.sleep(0.15)  # let the follower see each file before it rotates
    await asyncio.wait_for(reader, 10)
    assert received == [f"after {n:03d} {'x' * 40}" for n in range(150)]


async def test_recent_lines_over_http(client: httpx.AsyncClient, logger: logging.Logger) -> None:
    for n in range(5):
        logger.info("entry %d with token=%s", n, SECRET)
    response = await client.get("/logs/main-api", params={"tail": 2})
    assert response.status_code == 200
    assert [line["message"] for line in response.json()["lines"]] == [
        "entry 3 with token=***",
        "entry 4 with token=***",
    ]
    listed = {s["name"]: s for s in (await client.get("/logs")).json()["services"]}
    assert listed["main-api"]["size_bytes"] > 0
    for bad, status in (("..%2Fetc", 422), ("Upper", 422), ("agent-api", 404)):
        refused = await client.get(f"/logs/{bad}")
        assert refused.status_code in {status, 404}, (bad, refused.text)
        assert set(refused.json()) == {"error", "detail"}
    assert (await client.get("/logs/main-api", params={"tail": -1})).status_code == 422
    naive = await client.get("/logs/main-api", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("logs") / "home"
    with live_server(home, f"sqlite:///{home.parent / 'wfhub.db'}") as running:
        yield running


def stream_url(server: LiveServer, service: str, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + f"/logs/{service}/stream{query}"


@pytest.fixture
async def main_api_stream(server: LiveServer) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with connect(stream_url(server, "main-api", "?tail=0"), additional_headers=headers) as ws:
        yield ws


async def test_the_stream_follows_a_service_in_order(
    server: LiveServer, main_api_stream: ClientConnection
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        for n in range(20):
            await client.get("/health", params={"n": n})
        await client.get("/health", params={"token": SECRET})
    seen: list[str] = []
    while len(seen) < 21:
        line = json.loads(await asyncio.wait_for(main_api_stream.recv(), 10))
        if "GET /health?" in line["message"]:
            seen.append(line["message"])
    assert [f"n={n} " in m for m, n in zip(seen, range(20), strict=False)] == [True] * 20
    assert SECRET not in seen[20]
    assert "token=***" in seen[20]


async def test_the_stream_sends_the_tail_first(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient() as client:
        await client.get(f"{server.url}/health", params={"marker": "tail-first"})
    await asyncio.sleep(0.3)
    async with connect(stream_url(server, "main-api", "?tail=5"), additional_headers=headers) as ws:
        lines = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]
    assert any("marker=tail-first" in line["message"] for line in lines)


async def test_the_stream_refuses_before_accepting(server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    path = "/logs/main-api/stream"
    status, body = await websocket_refusal(server, path)
    assert (status, body["error"]) == (401, "unauthorized")
    assert (await websocket_refusal(server, path, Origin="https://evil.example", **auth))[0] == 403
    assert (await websocket_refusal(server, path, host="attacker.example", **auth))[0] == 403
    status, body = await websocket_refusal(server, "/logs/no-such-service/stream", **auth)
    assert (status, body["error"]) == (404, "not_found")
    for query in ("?tail=x", "?tail=10001", "?since=yesterday", "?since=2026-01-01T00:00:00"):
        status, body = await websocket_refusal(server, path + query, **auth)
        assert (status, body["error"]) == (422, "invalid_input"), query


def test_log_dir_is_private(server: LiveServer) -> None:
    logs = Path(server.env["WFHUB_HOME"]) / "logs"
    assert logs.stat().st_mode & 0o777 == 0o700
