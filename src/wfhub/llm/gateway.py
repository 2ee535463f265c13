"""The LLM gateway: `/ollama/api/*`, `/ollama/v1/*` and `/v1/*` forwarded to model backends.

A pure ASGI app in front of FastAPI's routing (routing and validation would cost more than
the whole forward). Per request it authenticates, checks the path and body, picks backends
for the body's `model`, and relays the upstream's bytes chunk by chunk as they arrive. If the
client goes away, the upstream request is closed, which stops generation there. Each request
becomes one ledger row, written later in a batch (see `ledger.py`).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wfhub.config import Settings
from wfhub.errors import (
    EndpointBlocked,
    InvalidInput,
    InvalidPath,
    PayloadTooLarge,
    UpstreamTimeout,
    UpstreamUnavailable,
    WfhubError,
)
from wfhub.llm import gateway_stats, latency
from wfhub.llm.backends import Backend, BackendPool
from wfhub.llm.ledger import LedgerWriter
from wfhub.schemas import INT32_MAX
from wfhub.security.auth import authenticate
from wfhub.security.guard import GATEWAY_PREFIXES, send_json_error
from wfhub.security.redact import redact

UPSTREAM_PATHS = {"/ollama/api/": "/api/", "/ollama/v1/": "/v1/", "/v1/": "/v1/"}
ADMIN_ENDPOINTS = (
    "/api/pull",
    "/api/push",
    "/api/create",
    "/api/copy",
    "/api/delete",
    "/api/blobs",
)
REDIRECT_FIELDS = frozenset({"api_base", "base_url", "api_url", "upstream", "host"})
CONTEXT_HEADERS = {
    b"x-wfhub-project": "project_id",
    b"x-wfhub-task": "task_id",
    b"x-wfhub-run": "run_id",
}
REQUEST_HEADERS = frozenset({b"content-type", b"accept", b"accept-encoding", b"user-agent"})
RESPONSE_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})
_SEGMENT = re.compile(r"^[A-Za-z0-9_.:-]+$")
CONNECT_SECONDS = 5.0
ERROR_CHARS = 2000


@dataclass
class Exchange:
    """What the ledger learns about one request while it is forwarded."""

    started: float
    endpoint: str
    client: str
    context: dict[str, int] = field(default_factory=dict)
    model: str = ""
    stream: bool = False
    backend: str = ""
    status: int = 0
    outcome: str = "ok"
    ttfb: float | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        stats = {k: v for k, v in self.stats.items() if k != "upstream_error"}
        total_ms = round((time.perf_counter() - self.started) * 1000, 3)
        return {
            "created_at": datetime.now(UTC),
            "backend": self.backend,
            "model": self.model[:300],
            "endpoint": self.endpoint[:200],
            "status": self.status,
            "outcome": self.outcome,
            "stream": self.stream,
            "prompt_tokens": stats.get("prompt_tokens"),
            "completion_tokens": stats.get("completion_tokens"),
            "load_ms": stats.get("load_ms"),
            "prompt_ms": stats.get("prompt_ms"),
            "eval_ms": stats.get("eval_ms"),
            "total_ms": total_ms,
            "latency_bucket": latency.bucket(total_ms),
            "ttfb_ms": None if self.ttfb is None else round(self.ttfb * 1000, 3),
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "client": self.client[:100],
            "project_id": self.context.get("project_id"),
            "task_id": self.context.get("task_id"),
            "run_id": self.context.get("run_id"),
            "error": None if self.error is None else redact(self.error)[:ERROR_CHARS],
        }


def upstream_path(path: str) -> str | None:
    """The upstream path for a gateway path, or None when the path is not the gateway's."""
    for prefix, target in UPSTREAM_PATHS.items():
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            segments = rest.split("/")
            if not rest or any(s in {"", ".", ".."} or not _SEGMENT.match(s) for s in segments):
                raise InvalidPath(f"not a model API path: {path!r}")
            return target + rest
    return None


def _context(scope: Scope) -> dict[str, int]:
    found: dict[str, int] = {}
    for key, value in scope["headers"]:
        name = CONTEXT_HEADERS.get(key)
        if name is not None:
            text = value.decode("latin-1").strip()
            # An id the ledger's integer columns cannot hold would fail every batch insert.
            if not text.isdigit() or len(text) > 10 or not 1 <= int(text) <= INT32_MAX:
                raise InvalidInput(f"{key.decode()} must be an id from 1 to {INT32_MAX}")
            found[name] = int(text)
    return found


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away while sending")
        body += message.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLarge(f"request body over the {limit}-byte limit")
        if not message.get("more_body", False):
            return bytes(body)


def _inspect(body: bytes, method: str, target: str, exchange: Exchange) -> None:
    """Check the JSON body and note the model and streaming mode."""
    if not body:
        if method == "POST":
            raise InvalidInput("request body must be a JSON object")
        return
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("request body must be a JSON object")
    redirect = REDIRECT_FIELDS & payload.keys()
    if redirect:
        raise InvalidInput(f"the upstream is chosen by wfhub; remove {', '.join(sorted(redirect))}")
    model = payload.get("model", payload.get("name", ""))
    if not isinstance(model, str):
        raise InvalidInput("`model` must be a string")
    exchange.model = model
    default_stream = target.startswith("/api/") and target.endswith(("/chat", "/generate"))
    exchange.stream = bool(payload.get("stream", default_stream))


class Gateway:
    def __init__(self, settings: Settings, pool: BackendPool, ledger: LedgerWriter) -> None:
        self.settings = settings
        self.pool = pool
        self.ledger = ledger
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=CONNECT_SECONDS,
                sock_read=settings.gateway_timeout_seconds,
            ),
        )

    async def close(self) -> None:
        await self.session.close()

    async def handle(self, scope: Scope, receive: Receive, send: Send, target: str) -> None:
        """Forward one request; every authenticated request becomes one ledger row (an
        unauthenticated one is refused without a row, so it cannot fill the ledger)."""
        try:
            await authenticate(Request(scope, receive), gateway=True)
        except WfhubError as exc:
            await send_json_error(send, exc.status_code, exc.code, exc.detail)
            return
        client = scope.get("client")
        exchange = Exchange(
            started=time.perf_counter(),
            endpoint=target,
            client=client[0] if client else "",
        )
        responded = False

        async def tracked_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self._forward(scope, receive, tracked_send, target, exchange)
        except WfhubError as exc:
            exchange.status, exchange.outcome, exchange.error = exc.status_code, "error", exc.detail
            if not responded:
                await send_json_error(send, exc.status_code, exc.code, exc.detail)
        except ConnectionResetError as exc:
            exchange.status, exchange.outcome, exchange.error = 499, "aborted", str(exc)
        finally:
            self.ledger.record(exchange.row())

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, target: str, exchange: Exchange
    ) -> None:
        if scope.get("raw_path", b"/")[:1] != b"/":
            raise InvalidPath("absolute-URI request targets are not accepted")
        if target.startswith(ADMIN_ENDPOINTS) and not self.settings.gateway_allow_admin:
            raise EndpointBlocked(
                f"{target} changes the model store; set WFHUB_GATEWAY_ALLOW_ADMIN=true to allow it"
            )
        exchange.context = _context(scope)
        body = await _read_body(receive, self.settings.gateway_max_body_bytes)
        exchange.request_bytes = len(body)
        method: str = scope["method"]
        _inspect(body, method, target, exchange)
        query = scope.get("query_string", b"").decode("latin-1")
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in REQUEST_HEADERS
        }
        errors: list[str] = []
        for backend in self.pool.candidates(exchange.model or None, target):
            url = backend.target(target) + (f"?{query}" if query else "")
            await backend.wait_ready(self.settings.restart_wait_seconds)
            try:
                upstream = await self.session.request(method, url, data=body, headers=headers)
            except aiohttp.ClientConnectorError as exc:
                self.pool.mark_down(backend, str(exc))
                errors.append(f"{backend.name}: {exc.strerror or exc}")
                continue
            except TimeoutError as exc:
                exchange.backend = backend.name
                limit = self.settings.gateway_timeout_seconds
                raise UpstreamTimeout(f"{backend.name} did not answer within {limit:g} s") from exc
            exchange.backend = backend.name
            await self._relay(upstream, backend, receive, send, exchange)
            return
        raise UpstreamUnavailable("no model backend answered: " + "; ".join(errors or ["none"]))

    async def _relay(
        self,
        upstream: aiohttp.ClientResponse,
        backend: Backend,
        receive: Receive,
        send: Send,
        exchange: Exchange,
    ) -> None:
        exchange.status = upstream.status
        tail = gateway_stats.ResponseTail(keep_whole=not exchange.stream)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.items()
            if k.lower() in RESPONSE_HEADERS
        ]
        forwarding = asyncio.current_task()
        aborted = False

        async def watch_client() -> None:
            nonlocal aborted
            while (await receive())["type"] != "http.disconnect":
                pass
            aborted = True
            if forwarding is not None:
                forwarding.cancel()

        watcher = asyncio.get_running_loop().create_task(watch_client())
        try:
            await send(
                {"type": "http.response.start", "status": upstream.status, "headers": headers}
            )
            async for chunk in upstream.content.iter_any():
                if exchange.ttfb is None:
                    exchange.ttfb = time.perf_counter() - exchange.started
                exchange.response_bytes += len(chunk)
                tail.feed(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:
            if not aborted:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            exchange.outcome, exchange.status = "aborted", 499
            exchange.error = "client disconnected; upstream request closed"
        except TimeoutError:
            exchange.outcome = "timeout"
            exchange.error = (
                f"{backend.name} stalled for {self.settings.gateway_timeout_seconds:g} s"
            )
        except aiohttp.ClientError as exc:
            exchange.outcome = "error"
            exchange.error = f"{backend.name} broke the connection: {type(exc).__name__}"
        finally:
            watcher.cancel()
            if exchange.outcome == "ok":
                upstream.release()  # read to the end: the connection goes back to the pool
            else:
                upstream.close()  # dropping the connection mid-body stops generation upstream
        exchange.stats = gateway_stats.extract(tail)
        if exchange.outcome == "ok" and upstream.status >= 400:
            exchange.outcome = "error"
            exchange.error = tail.text()
        elif exchange.outcome == "ok" and exchange.stats.get("upstream_error"):
            exchange.outcome = "error"
            exchange.error = str(exchange.stats["upstream_error"])


class GatewayMiddleware:
    """Sends gateway paths to the `Gateway` on `app.state.gateway`; everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(GATEWAY_PREFIXES):
            gateway: Gateway = scope["app"].state.gateway
            try:
                target = upstream_path(scope["path"])
            except WfhubError as exc:
                await send_json_error(send, exc.status_code, exc.code, exc.detail)
                return
            if target is not None:
                await gateway.handle(scope, receive, send, target)
                return
        await self.app(scope, receive, send)
