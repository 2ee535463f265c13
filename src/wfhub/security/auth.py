"""The authentication dependency every router but `/health` carries.

Accepted credentials: `Authorization: Bearer <api token>`, or the `wfhub_session` cookie set by
`POST /auth/login`. Cookie-authenticated unsafe requests must also send `X-CSRF-Token`. The
LLM gateway alone also accepts a run's gateway token (`tokens.create_gateway_token`).
Verified credentials are cached for a few seconds so an authenticated read costs no extra
query; a rotation or logout therefore takes effect within `CACHE_SECONDS`.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from wfhub.db import SAFE_METHODS, Database
from wfhub.errors import CsrfFailed, Unauthorized
from wfhub.models import TokenKind
from wfhub.security import tokens

SESSION_COOKIE = "wfhub_session"
CSRF_COOKIE = "wfhub_csrf"
CSRF_HEADER = "X-CSRF-Token"
CACHE_SECONDS = 5.0
_CACHE_LIMIT = 4096

_bearer = HTTPBearer(auto_error=False, description="The API token printed by `wfhub token`.")


class CredentialCache:
    """Positive results only: a wrong token is always checked against the database."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, TokenKind], float] = {}

    def hit(self, digest: str, kind: TokenKind) -> bool:
        until = self._until.get((digest, kind))
        return until is not None and until > time.monotonic()

    def remember(self, digest: str, kind: TokenKind) -> None:
        if len(self._until) >= _CACHE_LIMIT:
            self._until.clear()
        self._until[(digest, kind)] = time.monotonic() + CACHE_SECONDS

    def forget(self, digest: str) -> None:
        for key in [k for k in self._until if k[0] == digest]:
            del self._until[key]


async def _verify(request: HTTPConnection, secret: str, kinds: tuple[TokenKind, ...]) -> bool:
    """Whether `secret` is a live credential of one of `kinds`: from the cache, else one
    database lookup for all of them (a gateway token is not looked up twice)."""
    cache: CredentialCache = request.app.state.credential_cache
    digest = tokens.hash_secret(secret)
    if any(cache.hit(digest, kind) for kind in kinds):
        return True
    database: Database = request.app.state.database
    async with database.session(write=False) as session:
        kind = await tokens.valid_kind(session, secret, kinds)
    if kind is not None:
        cache.remember(digest, kind)
    return kind is not None


async def authenticate(request: HTTPConnection, *, gateway: bool = False) -> str:
    """Raise `Unauthorized` or `CsrfFailed` unless the request carries valid credentials;
    return who it is (a digest of the credential) for per-user limits.

    Shared by the router dependency, the gateway (outside FastAPI's routing) and WebSockets,
    whose handshake is a GET: a cross-site one is stopped by the guard's Origin check.
    Only the gateway (`gateway=True`) also takes a run's gateway token."""
    if request.app.state.settings.auth_disabled:
        return "anonymous"
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, sent = authorization.partition(" ")
        secret = sent.strip()
        kinds = (TokenKind.api, TokenKind.gateway) if gateway else (TokenKind.api,)
        if scheme.lower() == "bearer" and await _verify(request, secret, kinds):
            return tokens.hash_secret(secret)
        raise Unauthorized("invalid API token")
    session_secret = request.cookies.get(SESSION_COOKIE)
    if session_secret is None:
        raise Unauthorized("send `Authorization: Bearer <token>` or log in at POST /auth/login")
    if not await _verify(request, session_secret, (TokenKind.session,)):
        raise Unauthorized("session expired or logged out; log in again")
    method = request.scope.get("method", "GET")
    if method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, tokens.csrf_for_session(session_secret)):
            raise CsrfFailed(f"cookie-authenticated {method} needs the {CSRF_HEADER} header")
    return tokens.hash_secret(session_secret)


async def require_auth(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with a valid token or session (and CSRF header).

    `_bearer` is declared so the OpenAPI schema advertises the Bearer scheme."""
    await authenticate(request)


AuthDep = Depends(require_auth)
