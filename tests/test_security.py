from __future__ import annotations

import re
import stat

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from wfhub.app import create_app
from wfhub.config import Settings
from wfhub.db import Database
from wfhub.models import ApiToken
from wfhub.routing import api_routes


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for path, route in api_routes(app)
        for method in sorted(route.methods or ())
    ]


async def test_every_route_but_health_needs_auth(app: FastAPI, anon: httpx.AsyncClient) -> None:
    routes = every_route(app)
    assert len(routes) > 30
    for method, path in routes:
        response = await anon.request(method, path)
        if path in {"/health", "/agent/health"}:  # the agent API's own liveness probe
            assert response.status_code == 200
            assert set(response.json()) <= {"status", "version"}  # says nothing else
            continue
        if path == "/auth/login":
            # Exchanges a token for a session, so it cannot itself require one.
            refused = await anon.post(path, json={"token": "wfh_guess"})
            assert refused.status_code == 401
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_token_is_401(anon: httpx.AsyncClient, token: str) -> None:
    bad = await anon.get("/projects", headers={"Authorization": "Bearer wfh_nope"})
    assert bad.status_code == 401
    basic = await anon.get("/projects", headers={"Authorization": f"Basic {token}"})
    assert basic.status_code == 401
    assert (
        await anon.get("/openapi.json", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.nip.io", "", "localhost.evil.com"])
async def test_foreign_host_header_is_refused(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/projects", headers={"Host": host})
    assert response.status_code == 400
    assert response.json()["error"] == "host_not_allowed"


@pytest.mark.parametrize(
    "host", ["localhost:8002", "127.0.0.1", "[::1]:8002", "wfhub.localhost", "api.localhost:443"]
)
async def test_local_host_names_are_allowed(client: httpx.AsyncClient, host: str) -> None:
    assert (await client.get("/projects", headers={"Host": host})).status_code == 200


async def test_configured_host_is_allowed(
    settings: Settings, database: Database, token: str
) -> None:
    # The guard reads its policy at app creation, so an app is built with the setting.
    configured = create_app(
        settings.model_copy(update={"allowed_hosts": ["*.example.org"]}), database
    )
    transport = httpx.ASGITransport(app=configured)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub.example.org:8443", headers=headers
    ) as c:
        assert (await c.get("/projects")).status_code == 200
        refused = await c.get("/projects", headers={"Host": "example.org.evil.com"})
        assert refused.status_code == 400


async def login(anon: httpx.AsyncClient, token: str) -> str:
    response = await anon.post("/auth/login", json={"token": token})
    assert response.status_code == 200
    set_cookie = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("wfhub_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=strict" in session_cookie or "SameSite=Strict" in session_cookie
    csrf: str = response.json()["csrf_token"]
    return csrf


async def test_cookie_session_with_csrf(anon: httpx.AsyncClient, token: str) -> None:
    csrf = await login(anon, token)
    assert (await anon.get("/projects")).status_code == 200
    no_header = await anon.post("/projects", json={"name": "x"})
    assert (no_header.status_code, no_header.json()["error"]) == (403, "csrf_failed")
    wrong = await anon.post("/projects", json={"name": "x"}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    ok = await anon.post("/projects", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    logout = await anon.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert logout.status_code == 204


async def test_logout_ends_the_session(anon: httpx.AsyncClient, token: str) -> None:
    csrf = await login(anon, token)
    session = anon.cookies["wfhub_session"]
    await anon.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    anon.cookies.set("wfhub_session", session)  # replay the old cookie
    replay = await anon.get("/projects")
    assert replay.status_code == 401


async def test_cross_site_post_is_refused(anon: httpx.AsyncClient, token: str) -> None:
    csrf = await login(anon, token)
    evil = await anon.post(
        "/projects",
        json={"name": "x"},
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert (evil.status_code, evil.json()["error"]) == (403, "origin_not_allowed")
    same = await anon.post(
        "/projects",
        json={"name": "y"},
        headers={"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:8002"},
    )
    assert same.status_code == 201


async def test_bad_login_is_401(anon: httpx.AsyncClient, token: str) -> None:
    assert (await anon.post("/auth/login", json={"token": "wrong"})).status_code == 401
    assert (await anon.post("/auth/login", json={})).status_code == 422


async def test_token_is_stored_hashed_and_file_private(
    token: str, database: Database, settings: Settings
) -> None:
    async with database.unit_of_work(write=False) as session:
        hashes = list(await session.scalars(select(ApiToken.token_hash)))
    assert token not in hashes
    assert len(hashes) == 1
    assert len(hashes[0]) == 64
    mode = stat.S_IMODE(settings.token_file.stat().st_mode)
    assert mode == 0o600
    assert settings.token_file.read_text().strip() == token


async def test_rotation_revokes_old_token_and_sessions(
    app: FastAPI, anon: httpx.AsyncClient, token: str, database: Database, settings: Settings
) -> None:
    from wfhub.security import tokens

    await login(anon, token)
    async with database.unit_of_work() as session:
        new = await tokens.rotate_api_token(session)
    app.state.credential_cache = type(app.state.credential_cache)()  # as a fresh process sees it
    old = await anon.get("/projects", headers={"Authorization": f"Bearer {token}"})
    assert old.status_code == 401
    assert (await anon.get("/projects")).status_code == 401  # the cookie session ended too
    assert (
        await anon.get("/projects", headers={"Authorization": f"Bearer {new}"})
    ).status_code == 200


async def test_a_gateway_token_opens_the_gateway_only_until_it_ends(
    app: FastAPI, anon: httpx.AsyncClient, token: str, database: Database, engine: AsyncEngine
) -> None:
    """What an engine process (Aider) holds instead of the API token."""
    from wfhub.security import tokens

    async with database.unit_of_work() as session:
        expired = await tokens.create_gateway_token(session, "run 1", -1)
    gone = {"Authorization": f"Bearer {expired}"}
    assert (await anon.get("/ollama/api/tags", headers=gone)).status_code == 401
    async with database.unit_of_work() as session:
        secret = await tokens.create_gateway_token(session, "run 2", 60)
    assert secret.startswith("wfh_")
    bearer = {"Authorization": f"Bearer {secret}"}
    lookups: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "api_tokens" in statement:
            lookups.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        # Past authentication on the gateway (the upstream is unreachable: 502, not 401).
        assert (await anon.get("/ollama/api/tags", headers=bearer)).status_code != 401
        assert (await anon.get("/ollama/api/tags", headers=bearer)).status_code != 401
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(lookups) == 1  # one lookup for every kind it may be, then the cache
    assert (await anon.get("/v1/models", headers=bearer)).status_code != 401
    for path in ("/projects", "/llm/requests", "/ollama/status", "/openapi.json"):
        assert (await anon.get(path, headers=bearer)).status_code == 401, path
    async with database.unit_of_work() as session:
        await tokens.revoke_gateway_token(session, secret)
        kinds = list(await session.scalars(select(ApiToken.kind)))
    assert kinds == ["api"]  # revoked, and the expired one swept when the next was made
    app.state.credential_cache = type(app.state.credential_cache)()  # as a fresh process sees it
    assert (await anon.get("/ollama/api/tags", headers=bearer)).status_code == 401
