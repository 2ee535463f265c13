"""The model-server health probe: a real 1-token generation under a deadline.

A port check or `/api/version` only shows that a process listens; a server whose runtime is
wedged still answers those. The probe asks the host which models it has, picks one (loaded
first, then the default model, then any), and generates one token. Its result says which
model answered and how long the whole probe took.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

import httpx

from wfhub.llm.backends import Backend


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    duration_ms: float
    detail: str
    model: str | None = None
    models_available: list[str] = field(default_factory=list)
    models_loaded: list[str] = field(default_factory=list)
    reachable: bool = True  # False when nothing listens (connection refused)
    empty: bool = False  # the server answers but has no model: waiting will not help


def _names(body: object, key: str) -> list[str]:
    entries = body.get(key) if isinstance(body, dict) else None
    names = (e.get("model") or e.get("name") or e.get("id") for e in entries or [])
    return [str(n) for n in names if n]


def _choose(available: list[str], loaded: list[str], default_model: str) -> str | None:
    for name in loaded:
        if name in available:
            return name
    for name in (default_model, f"{default_model}:latest"):
        if name in available:
            return name
    return available[0] if available else None


async def _ollama(client: httpx.AsyncClient, url: str, default_model: str) -> ProbeResult:
    tags = await client.get(f"{url}/api/tags")
    tags.raise_for_status()
    available = _names(tags.json(), "models")
    ps = await client.get(f"{url}/api/ps")
    loaded = _names(ps.json(), "models") if ps.status_code < 400 else []
    model = _choose(available, loaded, default_model)
    if model is None:
        return ProbeResult(False, 0, f"{url} serves no model", None, available, loaded, empty=True)
    body = {"model": model, "prompt": "ping", "stream": False, "options": {"num_predict": 1}}
    answer = await client.post(f"{url}/api/generate", json=body)
    if answer.status_code >= 400:
        return ProbeResult(
            False, 0, f"generation answered {answer.status_code}: {answer.text[:200]}", model
        )
    if not answer.json().get("done"):
        return ProbeResult(False, 0, "generation did not finish", model, available, loaded)
    return ProbeResult(
        True, 0, f"{model} generated a token", model, available, [*loaded] or [model]
    )


async def _openai(client: httpx.AsyncClient, url: str, default_model: str) -> ProbeResult:
    listing = await client.get(f"{url}/v1/models")
    listing.raise_for_status()
    available = _names(listing.json(), "data")
    model = _choose(available, [], default_model)
    if model is None:
        return ProbeResult(False, 0, f"{url} serves no model", None, available, empty=True)
    body = {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
    answer = await client.post(f"{url}/v1/chat/completions", json=body)
    if answer.status_code >= 400:
        return ProbeResult(
            False, 0, f"generation answered {answer.status_code}: {answer.text[:200]}", model
        )
    return ProbeResult(True, 0, f"{model} generated a token", model, available)


async def generation_probe(
    client: httpx.AsyncClient, backend: Backend, default_model: str, deadline: float
) -> ProbeResult:
    """Probe `backend` with a 1-token generation; never raises."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            probe = _ollama if backend.kind == "ollama" else _openai
            result = await probe(client, backend.url, default_model)
    except TimeoutError:
        result = ProbeResult(False, 0, f"no generation within {deadline:g} s")
    except httpx.ConnectError as exc:
        result = ProbeResult(False, 0, f"cannot connect: {exc}", reachable=False)
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        result = ProbeResult(False, 0, f"{type(exc).__name__}: {exc}".rstrip(": "))
    return replace(result, duration_ms=round((time.perf_counter() - started) * 1000, 1))
