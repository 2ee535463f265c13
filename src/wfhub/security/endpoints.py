"""Browser login/logout: exchange the API token for an HttpOnly session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from wfhub.db import SessionDep
from wfhub.errors import ERROR_RESPONSES, Unauthorized
from wfhub.models import TokenKind
from wfhub.security import tokens
from wfhub.security.auth import CSRF_COOKIE, SESSION_COOKIE, AuthDep
from wfhub.security.schemas import LoginRequest, LoginResponse

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, response: Response, session: SessionDep
) -> LoginResponse:
    """Check the API token and start a browser session (cookie + CSRF token)."""
    if not await tokens.is_valid(session, body.token, TokenKind.api):
        raise Unauthorized("invalid API token")
    ttl = request.app.state.settings.session_ttl_seconds
    secret, expires_at = await tokens.create_session(session, ttl)
    csrf = tokens.csrf_for_session(secret)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=ttl, httponly=True, samesite="strict", secure=secure
    )
    # Readable by the web UI so it can echo it in the header; useless without the session.
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl, samesite="strict", secure=secure)
    return LoginResponse(csrf_token=csrf, expires_at=expires_at)


@router.post("/logout", status_code=204, dependencies=[AuthDep])
async def logout(request: Request, session: SessionDep) -> Response:
    """End the browser session of this cookie (a Bearer call has nothing to end)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is not None:
        await tokens.end_session(session, secret)
        request.app.state.credential_cache.forget(tokens.hash_secret(secret))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response
