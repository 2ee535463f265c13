"""The task tree cache: served while the project's tasks are unchanged, rebuilt after any
change (through the API or straight in the database), and revalidated with ETags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, text

from tests.conftest import StatementCounter
from tests.test_tasks import Json, make
from wfhub.db import Database
from wfhub.models import Project
from wfhub.tasks.tree_cache import TreeCache, TreeStamp


def titles(tree: Json) -> list[Any]:
    """The tree as nested [title, [children...]] lists."""

    def walk(node: Json) -> list[Any]:
        return [node["title"], [walk(child) for child in node["children"]]]

    return [walk(root) for root in tree["items"]]


async def test_second_read_is_one_statement_and_every_change_shows(
    client: httpx.AsyncClient, project: Json, statements: StatementCounter, database: Database
) -> None:
    pid = project["id"]
    root = await make(client, pid, "root")
    child = await make(client, pid, "child", parent_id=root["id"])
    other = await make(client, pid, "other")

    async def tree() -> tuple[list[Any], int]:
        before = statements.count
        response = await client.get(f"/tasks/{pid}/tasks", params={"tree": "true"})
        assert response.status_code == 200, response.text
        return titles(response.json()), statements.count - before

    first, cold = await tree()
    assert first == [["root", [["child", []]]], ["other", []]]
    again, warm = await tree()
    assert (again, cold, warm) == (first, 4, 1)  # only the project's task version is read

    await client.patch(f"/tasks/{child['id']}", json={"title": "renamed"})
    assert (await tree())[0] == [["root", [["renamed", []]]], ["other", []]]
    await client.patch(f"/tasks/{child['id']}", json={"parent_id": other["id"]})
    assert (await tree())[0] == [["root", []], ["other", [["renamed", []]]]]
    await client.post(f"/tasks/{root['id']}/subtasks", json={"title": "new"})
    assert (await tree())[0] == [["root", [["new", []]]], ["other", [["renamed", []]]]]
    await client.delete(f"/tasks/{other['id']}", params={"cascade": "true"})
    assert (await tree())[0] == [["root", [["new", []]]]]

    # A write that bypasses wfhub (another process, a manual fix) is seen as well.
    async with database.unit_of_work() as session:
        await session.execute(text("UPDATE tasks SET title = 'by hand' WHERE parent_id IS NULL"))
    assert (await tree())[0] == [["by hand", [["new", []]]]]


async def test_each_query_is_cached_apart(client: httpx.AsyncClient, project: Json) -> None:
    pid = project["id"]
    for title in ("a", "b", "c"):
        await make(client, pid, title)

    async def page(**params: str | int) -> list[Any]:
        response = await client.get(f"/tasks/{pid}/tasks", params={"tree": "true", **params})
        return titles(response.json())

    assert await page(limit=1) == [["a", []]]
    assert await page(limit=1, offset=1) == [["b", []]]
    assert await page(q="c") == [["c", []]]
    assert await page(limit=1) == [["a", []]]


async def test_etag_revalidation(client: httpx.AsyncClient, project: Json) -> None:
    pid = project["id"]
    task = await make(client, pid, "a")
    url = f"/tasks/{pid}/tasks?tree=true"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "no-cache"

    for sent in (etag, etag.removeprefix("W/"), f'"nope", {etag}', "*"):
        unchanged = await client.get(url, headers={"If-None-Match": sent})
        assert (unchanged.status_code, unchanged.content) == (304, b""), sent
        assert unchanged.headers["etag"] == etag

    await client.patch(f"/tasks/{task['id']}", json={"status": "completed"})
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["items"][0]["status"] == "completed"


async def test_deleted_project_is_not_served_from_cache(
    client: httpx.AsyncClient, project: Json
) -> None:
    url = f"/tasks/{project['id']}/tasks?tree=true"
    assert (await client.get(url)).status_code == 200
    assert (await client.delete(f"/projects/{project['id']}")).status_code == 204
    gone = await client.get(url)
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"


async def test_trigger_bumps_every_project_a_statement_touches(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = (await client.post("/projects", json={"name": "one"})).json()
    second = (await client.post("/projects", json={"name": "two"})).json()
    for i in range(3):
        await make(client, first["id"], f"t{i}")

    async def versions() -> tuple[int, int]:
        async with database.unit_of_work(write=False) as session:
            rows = await session.execute(
                select(Project.tasks_version)
                .where(Project.id.in_([first["id"], second["id"]]))
                .order_by(Project.id)
            )
            a, b = rows.scalars().all()
        return a, b

    a0, b0 = await versions()
    async with database.unit_of_work() as session:
        await session.execute(
            text("UPDATE tasks SET project_id = :to WHERE title = 't0'"), {"to": second["id"]}
        )
    a1, b1 = await versions()
    assert a1 > a0
    assert b1 > b0
    async with database.unit_of_work() as session:
        await session.execute(text("DELETE FROM tasks WHERE project_id = :p"), {"p": first["id"]})
    assert (await versions())[0] > a1


def test_cache_is_bounded_in_bytes_and_keyed_by_stamp() -> None:
    created = datetime(2026, 11, 25, tzinfo=UTC)
    cache = TreeCache(max_bytes=10)
    v1, v2 = TreeStamp(1, created, 1), TreeStamp(1, created, 2)
    cache.put(v1, "q", b"12345")
    assert cache.get(v1, "q") == b"12345"
    assert cache.get(v2, "q") is None  # the project's tasks changed
    assert cache.get(TreeStamp(1, datetime(2026, 11, 26, tzinfo=UTC), 1), "q") is None
    cache.put(TreeStamp(2, created, 1), "q", b"123")
    cache.get(v1, "q")  # now the most recently used
    cache.put(TreeStamp(3, created, 1), "q", b"1234")  # 12 bytes: evict the oldest
    assert cache.get(TreeStamp(2, created, 1), "q") is None
    assert cache.get(v1, "q") == b"12345"
    assert cache.size_bytes == 9
    cache.put(v2, "q", b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get(v2, "q") is None
    assert cache.size_bytes == 9
    cache.put(v2, "q", b"ab")  # replaces the stale entry of the same query
    assert cache.get(v2, "q") == b"ab"
    assert cache.size_bytes == 6
