from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest

from wfhub.config import Settings
from wfhub.tasks.attachments import GRACE_SECONDS, blob_path

Json = dict[str, Any]


@pytest.fixture
async def task(client: httpx.AsyncClient, project: Json) -> Json:
    body: Json = (await client.post(f"/tasks/{project['id']}/tasks", json={"title": "t"})).json()
    return body


async def test_comments(client: httpx.AsyncClient, task: Json) -> None:
    base = f"/tasks/{task['id']}/comments"
    first = (await client.post(base, json={"body": "first", "author": "ana"})).json()
    await client.post(base, json={"body": "second"})
    listed = (await client.get(base)).json()
    assert [(c["author"], c["body"]) for c in listed] == [("ana", "first"), ("user", "second")]
    edited = await client.patch(f"{base}/{first['id']}", json={"body": "edited"})
    assert edited.json()["body"] == "edited"
    assert (await client.post(base, json={"body": ""})).status_code == 422
    assert (await client.delete(f"{base}/{first['id']}")).status_code == 204
    assert (await client.delete(f"{base}/{first['id']}")).status_code == 404
    assert len((await client.get(base)).json()) == 1


async def test_comment_of_another_task_is_404(
    client: httpx.AsyncClient, project: Json, task: Json
) -> None:
    other = (await client.post(f"/tasks/{project['id']}/tasks", json={"title": "o"})).json()
    comment = (await client.post(f"/tasks/{task['id']}/comments", json={"body": "x"})).json()
    response = await client.patch(
        f"/tasks/{other['id']}/comments/{comment['id']}", json={"body": "y"}
    )
    assert response.status_code == 404
    assert "has no comments" in response.json()["detail"]


async def test_acceptance_criteria(client: httpx.AsyncClient, task: Json) -> None:
    base = f"/tasks/{task['id']}/acceptance-criteria"
    a = (await client.post(base, json={"description": "tests pass"})).json()
    b = (await client.post(base, json={"description": "docs updated", "passed": True})).json()
    assert (a["position"], a["passed"], b["position"], b["passed"]) == (0, False, 1, True)
    marked = await client.patch(f"{base}/{a['id']}", json={"passed": True})
    assert marked.json()["passed"] is True
    assert marked.json()["description"] == "tests pass"
    assert (await client.patch(f"{base}/{a['id']}", json={"passed": "maybe"})).status_code == 422
    assert (await client.delete(f"{base}/{b['id']}")).status_code == 204
    assert [c["id"] for c in (await client.get(base)).json()] == [a["id"]]


async def test_attachment_round_trip(
    client: httpx.AsyncClient, task: Json, settings: Settings
) -> None:
    base = f"/tasks/{task['id']}/attachments"
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    uploaded = await client.post(base, files={"file": ("../../shot.png", png, "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    meta = uploaded.json()
    assert meta["filename"] == "shot.png"  # path parts stripped
    assert (meta["size"], meta["content_type"]) == (len(png), "image/png")
    assert meta["sha256"] == hashlib.sha256(png).hexdigest()
    assert blob_path(settings.attachments_dir, meta["sha256"]).read_bytes() == png

    download = await client.get(f"{base}/{meta['id']}")
    assert download.status_code == 200
    assert download.content == png
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"

    guessed = (
        await client.post(base, files={"file": ("notes.txt", b"hi", "application/octet-stream")})
    ).json()
    assert guessed["content_type"] == "text/plain"
    assert [a["filename"] for a in (await client.get(base)).json()] == ["shot.png", "notes.txt"]


async def test_deleting_attachments_frees_unshared_blobs(
    client: httpx.AsyncClient, task: Json, settings: Settings
) -> None:
    base = f"/tasks/{task['id']}/attachments"
    one = (await client.post(base, files={"file": ("a.bin", b"same", None)})).json()
    two = (await client.post(base, files={"file": ("b.bin", b"same", None)})).json()
    path = blob_path(settings.attachments_dir, one["sha256"])
    old = path.stat().st_mtime - GRACE_SECONDS - 10
    os.utime(path, (old, old))  # past the grace period that protects in-flight uploads
    assert (await client.delete(f"{base}/{one['id']}")).status_code == 204
    assert path.exists(), "still used by the second attachment"
    assert (await client.delete(f"{base}/{two['id']}")).status_code == 204
    assert not path.exists()


async def test_oversized_upload_is_413_and_stores_nothing(
    client: httpx.AsyncClient, task: Json, settings: Settings
) -> None:
    settings.max_attachment_bytes = 4096
    base = f"/tasks/{task['id']}/attachments"
    response = await client.post(base, files={"file": ("big.bin", b"x" * 5000, None)})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert (await client.get(base)).json() == []
    assert list((settings.attachments_dir / "tmp").iterdir()) == []


async def test_upload_without_file_or_to_missing_task(
    client: httpx.AsyncClient, task: Json
) -> None:
    assert (
        await client.post(f"/tasks/{task['id']}/attachments", data={"x": "1"})
    ).status_code == 422
    missing = await client.post("/tasks/999999/attachments", files={"file": ("a", b"a", None)})
    assert missing.status_code == 404
    assert (await client.get(f"/tasks/{task['id']}/attachments/999999")).status_code == 404
