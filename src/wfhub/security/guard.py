"""Pure-ASGI guard in front of everything: Host allowlist, Origin check, body-size cap.

It runs before routing and before any WebSocket is accepted, so a rebinding attack
(`Host: attacker.example`) or a cross-site WebSocket never reaches an endpoint.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wfhub.config import LOOPBACK_NAMES, Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MULTIPART_OVERHEAD = 64 * 1024
GATEWAY_PREFIXES = ("/ollama/api/", "/ollama/v1/", "/v1/")


def split_host(value: str) -> str:
    """The host name of a Host header value, without port, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostPolicy:
    """Which Host headers and browser Origins this server answers."""

    def __init__(self, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]) -> None:
        self._patterns = [h.strip().lower() for h in allowed_hosts if h.strip()]
        self._origins = {o.strip().lower().rstrip("/") for o in allowed_origins if o.strip()}

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        extra = [settings.host] if settings.host not in {"0.0.0.0", "::"} else []  # noqa: S104
        return cls([*settings.allowed_hosts, *extra], settings.allowed_origins)

    def host_allowed(self, host_header: str) -> bool:
        name = split_host(host_header)
        if not name:
            return False
        if name in LOOPBACK_NAMES or name.endswith(".localhost"):
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns)

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if origin in self._origins:
            return True
        parts = urlsplit(origin)
        # Same origin: the page was served by this very server under the same Host.
        return parts.scheme in {"http", "https"} and parts.netloc == host_header.strip().lower()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_json_error(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    def __init__(self, app: ASGIApp, policy: HostPolicy, settings: Settings) -> None:
        self.app = app
        self.policy = policy
        self.max_body = settings.max_body_bytes
        self.max_upload = settings.max_attachment_bytes + MULTIPART_OVERHEAD
        self.max_gateway = settings.gateway_max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        origin = _header(scope, b"origin")
        if scope["type"] == "websocket":
            if not self.policy.host_allowed(host) or (
                origin is not None and not self.policy.origin_allowed(origin, host)
            ):
                # Closing before accept makes the server answer the handshake with 403.
                await receive()
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if not self.policy.host_allowed(host):
            await send_json_error(send, 400, "host_not_allowed", f"Host {host!r} is not allowed")
            return
        method = scope["method"]
        if (
            method in UNSAFE_METHODS
            and origin is not None
            and origin != "null"
            and not self.policy.origin_allowed(origin, host)
        ):
            await send_json_error(
                send, 403, "origin_not_allowed", f"Origin {origin!r} is not allowed"
            )
            return
        limit = self._limit_for(scope)
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await send_json_error(
                send, 413, "payload_too_large", f"request body over the {limit}-byte limit"
            )
            return
        cap = _BodyCap(receive, send, limit)
        await self.app(scope, cap.receive, cap.send)

    def _limit_for(self, scope: Scope) -> int:
        path: str = scope["path"]
        if path.startswith(GATEWAY_PREFIXES):
            return self.max_gateway
        method, path = scope["method"], path.rstrip("/")
        if method == "POST" and path.endswith(("/attachments", "/upload")):
            return self.max_upload
        if method == "PUT" and path.startswith("/workspace/") and path.endswith("/file"):
            return self.max_upload
        return self.max_body


class _BodyCap:
    """Counts streamed (chunked) bodies too, since Content-Length is optional.

    Past the limit it answers 413 itself and tells the app the client went away, because an
    exception raised from `receive` would be reported by the framework as a parse error (400).
    """

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._seen = 0
        self._started = False
        self._answered = False

    async def receive(self) -> Message:
        if self._answered:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > self._limit and not self._started:
                self._answered = True
                detail = f"request body over the {self._limit}-byte limit"
                await send_json_error(self._send, 413, "payload_too_large", detail)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self._answered:
            return
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)
