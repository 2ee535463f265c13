"""The gateway in a real `wfhub serve`, in front of a fake Ollama host (a separate process):
streaming without buffering, disconnects, timeouts, refusals, and the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, separate_database
from tests.live_server import LiveServer, live_server
from wfhub.llm import latency

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fake_ollama", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/api/tags", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def hub(
    upstream: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("gateway")
    with (
        separate_database(database_url, folder) as url,
        live_server(
            folder / "home", url, ollama_urls=upstream, gateway_timeout_seconds="2"
        ) as server,
    ):
        yield server


@pytest.fixture
def api(hub: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {hub.token}"}
    with httpx.Client(base_url=hub.url, headers=headers, timeout=30) as client:
        yield client


def ledger_rows(api: httpx.Client, count: int, **filters: Any) -> list[dict[str, Any]]:
    """The newest `count` ledger rows matching `filters`, once the batch writer stored them."""
    for _ in range(100):
        items: list[dict[str, Any]] = api.get("/llm/requests", params=filters).json()["items"]
        if len(items) >= count:
            return items
        time.sleep(0.1)
    raise AssertionError(f"ledger has {len(items)} rows for {filters}, expected {count}")


def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def test_streams_chunk_by_chunk_and_records_the_run(api: httpx.Client, upstream: str) -> None:
    headers = {"X-Wfhub-Project": "7", "X-Wfhub-Task": "8", "X-Wfhub-Run": "9101"}
    with api.stream("POST", "/ollama/api/chat", json=chat("slow"), headers=headers) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        first = json.loads(next(lines))
        first_seen = time.time()
        rest = [json.loads(line) for line in lines]
    assert first["done"] is False
    assert rest[-1]["done"] is True
    # The upstream spaces its five chunks 0.3 s apart: the first reached us before the last
    # was even sent, so the gateway did not buffer.
    assert first_seen < httpx.get(f"{upstream}/_stats").json()["last_chunk_sent_at"]
    (row,) = ledger_rows(api, 1, run_id=9101)
    assert row["model"] == "slow"
    assert row["backend"] == "ollama-1"
    assert row["endpoint"] == "/api/chat"
    assert (row["project_id"], row["task_id"], row["status"]) == (7, 8, 200)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (7, 5)
    assert (row["load_ms"], row["prompt_ms"], row["eval_ms"]) == (1.0, 2.0, 3.0)
    assert row["stream"] is True
    assert row["outcome"] == "ok"
    assert row["ttfb_ms"] is not None
    assert row["total_ms"] >= row["ttfb_ms"]


def test_every_request_lands_in_the_ledger_once(api: httpx.Client) -> None:
    for n in range(5):
        body = chat("fast", stream=False, options={"num_predict": n + 1})
        response = api.post("/ollama/api/chat", json=body, headers={"X-Wfhub-Run": "9202"})
        assert response.json()["eval_count"] == n + 1
    api.post("/v1/chat/completions", json=chat("fast"), headers={"X-Wfhub-Run": "9202"})
    time.sleep(1.2)  # two flush periods: a duplicate write would have landed by now
    rows = ledger_rows(api, 6, run_id=9202)
    assert len(rows) == 6
    assert sorted(r["completion_tokens"] for r in rows) == [1, 2, 3, 3, 4, 5]
    usage = api.get("/llm/usage", params={"group_by": "run", "run_id": 9202}).json()
    (row,) = usage["rows"]
    assert (row["key"], row["requests"], row["errors"]) == (9202, 6, 0)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (5 * 7 + 11, 18)
    assert 0 < row["latency_p50_ms"] <= row["latency_p95_ms"] <= row["latency_p99_ms"]
    slowest = max(r["total_ms"] for r in rows)
    assert row["latency_p99_ms"] == pytest.approx(slowest, rel=latency.RELATIVE_ERROR)


def test_openai_stream_usage_is_recorded(api: httpx.Client) -> None:
    with api.stream(
        "POST", "/v1/chat/completions", json=chat("fast", stream=True),
        headers={"X-Wfhub-Run": "9303"},
    ) as response:  # fmt: skip
        events = [line for line in response.iter_lines() if line.startswith("data:")]
    assert events[-1] == "data: [DONE]"
    (row,) = ledger_rows(api, 1, run_id=9303)
    assert (row["prompt_tokens"], row["completion_tokens"], row["stream"]) == (11, 3, True)


def test_client_disconnect_closes_the_upstream(api: httpx.Client, upstream: str) -> None:
    before = httpx.get(f"{upstream}/_stats").json()["disconnects"]
    with api.stream(
        "POST", "/ollama/api/chat", json=chat("endless"), headers={"X-Wfhub-Run": "9404"}
    ) as response:
        lines = response.iter_lines()
        next(lines)
        next(lines)
    for _ in range(50):
        if httpx.get(f"{upstream}/_stats").json()["disconnects"] > before:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the upstream never saw the client leave")
    (row,) = ledger_rows(api, 1, run_id=9404)
    assert row["outcome"] == "aborted"


def test_hang_timeout_drop_and_errors(api: httpx.Client) -> None:
    hung = api.post("/ollama/api/chat", json=chat("hang"), headers={"X-Wfhub-Run": "9505"})
    assert hung.status_code == 504
    assert hung.json()["error"] == "upstream_timeout"
    assert "did not answer within 2 s" in hung.json()["detail"]
    with (
        api.stream(
            "POST", "/ollama/api/chat", json=chat("drop"), headers={"X-Wfhub-Run": "9505"}
        ) as dropped,
        pytest.raises(httpx.HTTPError),
    ):
        list(dropped.iter_lines())
    failed = api.post("/ollama/api/chat", json=chat("error"), headers={"X-Wfhub-Run": "9505"})
    assert failed.status_code == 500
    rows = {r["model"]: r for r in ledger_rows(api, 3, run_id=9505)}
    assert rows["hang"]["outcome"] == "error"
    assert rows["hang"]["status"] == 504
    assert rows["drop"]["outcome"] == "error"
    assert rows["error"]["outcome"] == "error"
    assert "backend exploded" in rows["error"]["error"]
    assert "sk-abcdef" not in rows["error"]["error"]


def test_bad_requests_are_refused(api: httpx.Client, hub: LiveServer) -> None:
    cases = [
        (api.post("/ollama/api/chat", content=b"{nope"), 422, "invalid_input"),
        (api.post("/ollama/api/chat", json=[1]), 422, "invalid_input"),
        (api.post("/ollama/api/chat", json=chat("fast", api_base="http://evil")), 422,
         "invalid_input"),
        (api.post("/ollama/api/pull", json={"model": "x"}), 403, "endpoint_blocked"),
        (api.delete("/ollama/api/delete", params={"model": "x"}), 403, "endpoint_blocked"),
        (api.post("/ollama/api/chat", json=chat("fast"), headers={"X-Wfhub-Run": "x"}), 422,
         "invalid_input"),
        (api.post("/ollama/api/chat", json=chat("fast"), headers={"X-Wfhub-Task": "0"}), 422,
         "invalid_input"),
        (api.post("/ollama/api/chat", json=chat("fast"), headers={"X-Wfhub-Project": "2147483648"}),
         422, "invalid_input"),
        (api.post("/ollama/api/chat", content=b"x" * (33 * 1024 * 1024)), 413,
         "payload_too_large"),
        (api.get("/ollama/api/%2e%2e/secret"), 400, "invalid_path"),
        (httpx.post(f"{hub.url}/ollama/api/chat", json=chat("fast")), 401, "unauthorized"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"] == code


def test_strangers_leave_no_ledger_rows(api: httpx.Client, hub: LiveServer) -> None:
    def newest_id() -> int:
        items = api.get("/llm/requests", params={"limit": 1}).json()["items"]
        return int(items[0]["id"]) if items else 0

    api.post("/ollama/api/chat", json=chat("fast", stream=False), headers={"X-Wfhub-Run": "9606"})
    ledger_rows(api, 1, run_id=9606)  # everything before the strangers is stored
    before = newest_id()
    for _ in range(3):
        stranger = httpx.post(f"{hub.url}/ollama/api/chat", json=chat("fast"))
        assert stranger.status_code == 401
    time.sleep(1.2)  # two flush periods
    assert newest_id() == before


def test_absolute_uri_target_cannot_redirect_the_upstream(hub: LiveServer) -> None:
    import socket

    host, port = hub.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        request = (
            "GET http://169.254.169.254/ollama/api/tags HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {hub.token}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        answer = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    status_line, _, body = answer.partition("\r\n\r\n")
    # Refused, or answered by the configured upstream: never sent to the host in the URI.
    assert " 400 " in status_line.split("\r\n")[0] or '"fast"' in body


def test_models_across_backends(api: httpx.Client) -> None:
    body = api.get("/ollama/models").json()
    (backend,) = body["backends"]
    assert backend["healthy"] is True
    assert "slow" in backend["models"]
    assert backend["loaded"] == ["fast"]
    assert body["default_model"] == "qwen2.5-coder:1.5b"


def test_ledger_queries_validate(api: httpx.Client) -> None:
    for params in (
        {"since": "2026-01-02T00:00:00", "until": "2026-01-03T00:00:00Z"},
        {"since": "2026-01-03T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
        {"limit": 0},
        {"run_id": -1},
    ):
        assert api.get("/llm/requests", params=params).status_code == 422
    assert api.get("/llm/usage", params={"group_by": "weekday"}).status_code == 422
    days = api.get("/llm/usage", params={"group_by": "day"}).json()["rows"]
    assert days
    assert all(len(str(d["key"])) == 10 for d in days)
