from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from wfhub.config import Settings


class _FakeOllama(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answers = {
            "/api/tags": {
                "models": [{"name": "qwen2.5-coder:1.5b", "model": "qwen2.5-coder:1.5b"}]
            },
            "/api/version": {"version": "0.5.0"},
            "/health": {},
        }
        body = json.dumps(answers.get(self.path, {})).encode()
        self.send_response(200 if self.path in answers else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def fake_upstream() -> Iterator[str]:
    """A real HTTP server on loopback answering like Ollama's /api/version."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_health_is_public(anon: httpx.AsyncClient) -> None:
    body = (await anon.get("/health")).json()
    assert body["status"] == "ok"
    assert body["version"]


async def test_full_health_reports_each_dependency(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.llm_port = 9  # nothing listens on the discard port
    report = (await client.get("/health/full")).json()
    checks = report["checks"]
    assert set(checks) == {"database", "model_server", "agent_api", "disk"}
    assert checks["database"]["status"] == "ok"
    assert checks["model_server"]["status"] == "down"
    assert checks["agent_api"]["status"] == "not_configured"
    assert checks["disk"]["status"] in {"ok", "low"}
    assert report["status"] == "degraded"
    assert all(c["latency_ms"] >= 0 for c in checks.values())


async def test_full_health_ok_with_live_upstreams(
    client: httpx.AsyncClient, settings: Settings, fake_upstream: str
) -> None:
    settings.ollama_urls = [fake_upstream]
    settings.agent_api_url = fake_upstream
    report = (await client.get("/health/full")).json()
    assert report["checks"]["model_server"]["status"] == "ok"
    assert report["checks"]["agent_api"]["status"] == "ok"
    assert report["status"] == "ok"


class _EmptyOllama(_FakeOllama):
    def do_GET(self) -> None:
        body = json.dumps({"models": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def test_a_model_server_without_models_is_down(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.ollama_urls = [f"http://127.0.0.1:{server.server_address[1]}"]
        check = (await client.get("/health/full")).json()["checks"]["model_server"]
    finally:
        server.shutdown()
        server.server_close()
    assert check["status"] == "down"
    assert "wfhub llm install" in check["detail"]
