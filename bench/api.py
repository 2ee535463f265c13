"""API throughput as a ratio to the same server's `/health`, on SQLite and PostgreSQL.

Run: `make bench` (or `python -m bench.api [--seconds S] [--concurrency C]`).
Each endpoint is measured in interleaved rounds against a real `wfhub serve` process; the
figure reported is the median round. Targets (issue 2): reads >= 60 % of /health, the
5,000-task tree >= 10 %. The tree is measured as a client polling it sees it (cached while
no task changes; the POST rounds in between change it) and with every request a cache miss.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert, select
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.live_server import LiveServer, live_server

from wfhub.config import normalize_database_url
from wfhub.db import create_engine
from wfhub.models import Project, Task

TASKS = 5000
CHAIN = 10  # each root has a chain of 9 descendants: 500 roots, depth up to 9

Request = Callable[[httpx.AsyncClient, int], httpx.Request]


async def seed(database_url: str) -> tuple[int, int]:
    """One project with TASKS tasks in a tree, inserted directly; returns project and first
    task ids."""
    engine = create_engine(normalize_database_url(database_url))
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        project_id = (
            await conn.execute(
                insert(Project)
                .values(
                    name="bench",
                    workspace_path="bench",
                    environment="local",
                    description="",
                    created_at=now,
                    updated_at=now,
                )
                .returning(Project.id)
            )
        ).scalar_one()
        parent: int | None = None
        ids: list[int] = []
        for i in range(TASKS):
            if i % CHAIN == 0:
                parent = None
            parent = (
                await conn.execute(
                    insert(Task)
                    .values(
                        project_id=project_id,
                        parent_id=parent,
                        title=f"task {i}",
                        description="benchmark task",
                        status="pending",
                        depth=i % CHAIN,
                        position=i,
                        priority=0,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(Task.id)
                )
            ).scalar_one()
            ids.append(parent)
        count = len((await conn.execute(select(Task.id))).all())
        assert count == TASKS
    await engine.dispose()
    return int(project_id), ids[0]


async def rate(server: LiveServer, make: Request, seconds: float, concurrency: int) -> float:
    """Requests per second for `seconds` with `concurrency` clients; every answer must be 2xx."""
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30
    ) as client:
        done = 0
        deadline = time.perf_counter() + seconds
        numbers = itertools.count()  # shared, so no two requests of a round are the same

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.send(make(client, next(numbers)))
                if response.status_code >= 300:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


def endpoints(project_id: int, first_task: int) -> dict[str, Request]:
    return {
        "GET /health": lambda c, _: c.build_request("GET", "/health"),
        "GET /projects/{id}": lambda c, _: c.build_request("GET", f"/projects/{project_id}"),
        "GET /tasks/{id}": lambda c, n: c.build_request("GET", f"/tasks/{first_task + n % TASKS}"),
        "GET tree (5,000 tasks)": lambda c, _: c.build_request(
            "GET", f"/tasks/{project_id}/tasks", params={"tree": "true", "limit": 1000}
        ),
        # Every limit >= 500 returns all 500 roots, but each is its own cache entry: cycling
        # through 500 of them (~650 MB of pages, past the 64 MB cache) misses every time.
        "GET tree, not cached": lambda c, n: c.build_request(
            "GET", f"/tasks/{project_id}/tasks", params={"tree": "true", "limit": 500 + n % 500}
        ),
        "POST /tasks/{project_id}/tasks": lambda c, n: c.build_request(
            "POST", f"/tasks/{project_id}/tasks", json={"title": f"new {n}"}
        ),
    }


async def measure(dialect: str, seconds: float, concurrency: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db" if dialect == "sqlite" else create_postgres_database()
        try:
            with live_server(Path(tmp) / "home", url) as server:
                project_id, first = await seed(url)
                plan = endpoints(project_id, first)
                samples: dict[str, list[float]] = {name: [] for name in plan}
                for _ in range(rounds):
                    for name, make in plan.items():
                        samples[name].append(await rate(server, make, seconds, concurrency))
        finally:
            if dialect != "sqlite":
                drop_postgres_database(url)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(dialect: str, results: dict[str, float]) -> str:
    health = results["GET /health"]
    lines = [f"### {dialect}", "", "| endpoint | req/s | ratio to /health |", "|---|---:|---:|"]
    for name, value in results.items():
        lines.append(f"| {name} | {value:,.0f} | {value / health:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--dialect", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    for dialect in args.dialect or ["sqlite", "postgresql"]:
        results = asyncio.run(measure(dialect, args.seconds, args.concurrency, args.rounds))
        print(report(dialect, results), "\n", flush=True)


if __name__ == "__main__":
    main()
