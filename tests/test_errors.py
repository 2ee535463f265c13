from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from wfhub import errors
from wfhub.errors import WfhubError


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong = await client.post("/health")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")
    # /projects is two routes; Allow must name both methods, not just the one matched.
    assert (await client.delete("/projects")).headers["allow"] == "GET, POST"


async def test_invalid_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/projects", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert set(response.json()) == {"error", "detail"}


async def test_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"name": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(
        "/projects", content=big, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")


async def test_chunked_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/projects", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert (await client.get("/projects")).json()["total"] == 0


def _subclasses(cls: type[WfhubError]) -> list[type[WfhubError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_error_is_in_the_documented_hierarchy() -> None:
    import wfhub.app  # noqa: F401 - imports every domain, so every error class exists

    doc = errors.__doc__ or ""
    for cls in _subclasses(WfhubError):
        entry = f"{cls.__name__} ({cls.status_code}, {cls.code})"
        assert entry in doc, f"{entry} is missing from the hierarchy in errors.py"
