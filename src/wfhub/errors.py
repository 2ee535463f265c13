"""Domain errors and the one place they become HTTP responses.

Hierarchy (status, code):

    WfhubError (500, internal_error)
    ├── WorkspaceIOError (500, io_error)          an unexpected OS error in a workspace
    ├── GitTimeout (504, git_timeout)
    ├── BadRequest (400, bad_request)
    │   ├── HostNotAllowed (400, host_not_allowed)
    │   ├── InvalidPath (400, invalid_path)          NUL, over-long names, not a file
    │   └── ContextOverflow (400, context_length_exceeded)  prompt longer than the context
    ├── Unauthorized (401, unauthorized)
    ├── Forbidden (403, forbidden)
    │   ├── CsrfFailed (403, csrf_failed)
    │   ├── OriginNotAllowed (403, origin_not_allowed)
    │   ├── PathEscape (403, path_outside_workspace)  `..`, absolute, links leading out
    │   └── EndpointBlocked (403, endpoint_blocked)   gateway model-admin endpoints
    ├── NotFound (404, not_found)
    │   └── ModelNotFound (404, model_not_found)
    ├── Conflict (409, conflict)
    │   ├── HasChildren (409, has_children)
    │   ├── TaskCycle (409, task_cycle)
    │   ├── StaleWrite (409, stale_version)          the file changed since it was read
    │   ├── AlreadyExists (409, already_exists)
    │   ├── WorkspaceExists (409, workspace_exists)
    │   ├── RestartNotConfigured (409, restart_not_configured)  no usable restart method
    │   ├── EngineNotInstalled (409, engine_not_installed)  `wfhub engines install` first
    │   └── GitFailed (409, git_failed)              git refused; its message is the detail
    ├── PayloadTooLarge (413, payload_too_large)
    ├── TooManyTerminals (429, too_many_terminals)  the per-user cap on web terminals
    ├── SandboxUnavailable (503, sandbox_unavailable)  no bubblewrap, unsandboxed not allowed
    ├── ModelUnavailable (503, model_unavailable)  model file damaged or server not loaded
    ├── UpstreamUnavailable (502, upstream_unavailable)  no model backend answered
    ├── UpstreamTimeout (504, upstream_timeout)
    └── InvalidInput (422, invalid_input)
        └── InvalidRef (422, invalid_ref)            option-like or malformed refs

Services raise these; they never raise HTTPException. Every error body is
`{"error": <code>, "detail": <text>}`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from wfhub.routing import allowed_methods

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The JSON shape of every error response."""

    error: str
    detail: str


class WfhubError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(WfhubError):
    status_code = 400
    code = "bad_request"


class HostNotAllowed(BadRequest):
    code = "host_not_allowed"


class Unauthorized(WfhubError):
    status_code = 401
    code = "unauthorized"


class Forbidden(WfhubError):
    status_code = 403
    code = "forbidden"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class NotFound(WfhubError):
    status_code = 404
    code = "not_found"


class Conflict(WfhubError):
    status_code = 409
    code = "conflict"


class RestartNotConfigured(Conflict):
    code = "restart_not_configured"


class EngineNotInstalled(Conflict):
    code = "engine_not_installed"


class HasChildren(Conflict):
    code = "has_children"


class TaskCycle(Conflict):
    code = "task_cycle"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(WfhubError):
    status_code = 413
    code = "payload_too_large"


class InvalidInput(WfhubError):
    status_code = 422
    code = "invalid_input"


class ContextOverflow(BadRequest):
    code = "context_length_exceeded"


class ModelUnavailable(WfhubError):
    status_code = 503
    code = "model_unavailable"


class TooManyTerminals(WfhubError):
    status_code = 429
    code = "too_many_terminals"


class SandboxUnavailable(WfhubError):
    status_code = 503
    code = "sandbox_unavailable"


class UpstreamUnavailable(WfhubError):
    status_code = 502
    code = "upstream_unavailable"


class UpstreamTimeout(WfhubError):
    status_code = 504
    code = "upstream_timeout"


class EndpointBlocked(Forbidden):
    code = "endpoint_blocked"


class WorkspaceIOError(WfhubError):
    code = "io_error"


class GitTimeout(WfhubError):
    status_code = 504
    code = "git_timeout"


class InvalidPath(BadRequest):
    code = "invalid_path"


class PathEscape(Forbidden):
    code = "path_outside_workspace"


class StaleWrite(Conflict):
    code = "stale_version"


class AlreadyExists(Conflict):
    code = "already_exists"


class WorkspaceExists(Conflict):
    code = "workspace_exists"


class GitFailed(Conflict):
    code = "git_failed"


class InvalidRef(InvalidInput):
    code = "invalid_ref"


def error_response(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    merged = dict(headers or {})
    if status == 401:
        merged.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=merged)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def refuse_websocket(websocket: WebSocket, error: WfhubError) -> None:
    """Answer a WebSocket handshake with the JSON error (HTTP status and body), or close
    when the server cannot send a denial response."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = error_response(error.status_code, error.code, error.detail)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008, reason=error.detail[:120])


def install_error_handlers(app: FastAPI) -> None:
    """Render every failure, ours or the framework's, as `{"error", "detail"}`."""

    async def on_wfhub(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WfhubError)
        return error_response(exc.status_code, exc.code, exc.detail)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "validation_error", _describe_validation(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110: `Allow` lists every method of the resource, not of one route.
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return error_response(exc.status_code, code, detail, headers)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(WfhubError, on_wfhub)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Missing or invalid credentials",
        403: "Forbidden (CSRF, Origin)",
        404: "Not found",
        409: "Conflict",
        413: "Payload too large",
        422: "Invalid input",
    }.items()
}
