"""Dependency probes for `/health/full`, each bounded by a deadline and run concurrently."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import text

from wfhub.config import Settings
from wfhub.db import Database
from wfhub.health.schemas import Check, CheckStatus, FullHealth

PROBE_SECONDS = 2.0
LOW_DISK_BYTES = 1024**3

Probe = Callable[[], Awaitable[tuple[CheckStatus, str]]]


async def _timed(probe: Probe) -> Check:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            status, detail = await probe()
    except TimeoutError:
        status, detail = "down", f"no answer within {PROBE_SECONDS:.0f} s"
    except (httpx.HTTPError, OSError, ValueError) as exc:
        status, detail = "down", f"{type(exc).__name__}: {exc}"
    return Check(
        status=status, latency_ms=round((time.perf_counter() - start) * 1000, 2), detail=detail
    )


async def _database(database: Database) -> tuple[CheckStatus, str]:
    async with database.session(write=False) as session:
        await session.execute(text("SELECT 1"))
    return "ok", database.dialect


async def _http(client: httpx.AsyncClient, url: str | None) -> tuple[CheckStatus, str]:
    if url is None:
        return "not_configured", "no URL configured"
    response = await client.get(url)
    if response.status_code >= 400:
        return "down", f"{url} answered {response.status_code}"
    return "ok", url


async def _models(client: httpx.AsyncClient, url: str) -> tuple[CheckStatus, str]:
    response = await client.get(url + "/api/tags")
    if response.status_code >= 400:
        return "down", f"{url} answered {response.status_code}"
    names = [m.get("model") or m.get("name") for m in response.json().get("models") or []]
    if not names:
        return "down", f"{url} serves no model: run `wfhub llm install`"
    return "ok", f"{url}: {', '.join(map(str, names))}"


async def _disk(path: Path) -> tuple[CheckStatus, str]:
    usage = await asyncio.to_thread(shutil.disk_usage, path)
    free_gib = usage.free / 1024**3
    return ("low" if usage.free < LOW_DISK_BYTES else "ok"), f"{free_gib:.1f} GiB free"


async def full_report(
    settings: Settings, database: Database, client: httpx.AsyncClient, version: str
) -> FullHealth:
    """Probe the database, model server, agent API and disk; overall `down` without a DB."""
    agent_url = settings.agent_api_url.rstrip("/") + "/health" if settings.agent_api_url else None
    probes: dict[str, Probe] = {
        "database": lambda: _database(database),
        "model_server": lambda: _models(client, settings.model_server_url),
        "agent_api": lambda: _http(client, agent_url),
        "disk": lambda: _disk(settings.home_dir),
    }
    results = await asyncio.gather(*(_timed(p) for p in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    if checks["database"].status != "ok":
        overall = "down"
    elif any(c.status in {"down", "low"} for c in checks.values()):
        overall = "degraded"
    else:
        overall = "ok"
    return FullHealth(status=overall, version=version, checks=checks)
