"""Ledger queries with a million rows: `GET /llm/requests` and `GET /llm/usage`.

Run: `python -m bench.ledger [--rows N]` (part of `make bench`). A real `wfhub serve` creates
the schema on SQLite and on PostgreSQL; the rows are then bulk-loaded with the database's own
driver, with the daily usage rows the ledger writer would have made. The rows span 90 days:
10,000 agent runs of 90 requests each, one after another (a run's requests come in a burst),
on 2,000 tasks in 20 projects and 3 models, plus 100,000 untagged requests in between;
latencies are log-normal. Each query is timed over HTTP, sequentially, median of 5; the
baseline in the same run is one full pass over the table (`SELECT count(*)`, through the
same driver).
Target (issue 3): every query well under a second.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.live_server import live_server

from wfhub.llm import latency, rollup
from wfhub.llm.latency import Tally

COLUMNS = (
    "created_at",
    "backend",
    "model",
    "endpoint",
    "status",
    "outcome",
    "stream",
    "prompt_tokens",
    "completion_tokens",
    "total_ms",
    "latency_bucket",
    "request_bytes",
    "response_bytes",
    "client",
    "project_id",
    "task_id",
    "run_id",
    "error",
)
USAGE_COLUMNS = (
    "day",
    "model",
    "project_id",
    "task_id",
    "run_id",
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "latency_histogram",
    "version",
)
MODELS = ("qwen2.5-coder:1.5b", "qwen2.5-coder:7b", "llama3.2:3b")
DAYS = 90
END = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 10_000


def batches(count: int) -> Iterator[list[dict[str, Any]]]:
    """Ledger rows as the gateway records them, `BATCH` at a time."""
    rng = random.Random(1)  # noqa: S311 -- repeatable sample data, not secrets
    start = END - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / count
    batch: list[dict[str, Any]] = []
    runs = count // 100
    for i in range(count):
        run = i * runs // count + 1
        task = run * 7919 % 2000 + 1  # runs of one task are spread over the 90 days
        untagged = i % 10 == 9
        total = rng.lognormvariate(7, 1)
        failed = rng.random() < 0.02
        batch.append(
            {
                "created_at": start + step * i,
                "backend": "embedded",
                "model": MODELS[run % 3],
                "endpoint": "/api/chat",
                "status": 500 if failed else 200,
                "outcome": "error" if failed else "ok",
                "stream": True,
                "prompt_tokens": rng.randrange(50, 4000),
                "completion_tokens": rng.randrange(1, 800),
                "total_ms": total,
                "latency_bucket": latency.bucket(total),
                "request_bytes": 600,
                "response_bytes": 4000,
                "client": "127.0.0.1",
                "project_id": None if untagged else task % 20 + 1,
                "task_id": None if untagged else task,
                "run_id": None if untagged else run,
                "error": "upstream error" if failed else None,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load(count: int, write: Callable[[str, tuple[str, ...], list[tuple[Any, ...]]], None]) -> None:
    """Ledger rows and their daily usage, the way the ledger writer would leave them."""
    usage: dict[rollup.Key, Tally] = {}
    for batch in batches(count):
        write("llm_requests", COLUMNS, [tuple(row[c] for c in COLUMNS) for row in batch])
        for key, tally in rollup.tally_rows(batch).items():
            usage.setdefault(key, Tally()).add(tally)
    daily = [
        (*key, t.requests, t.errors, t.prompt_tokens, t.completion_tokens,
         t.histogram.to_json(), 1)
        for key, t in usage.items()
    ]  # fmt: skip
    write("llm_usage_daily", USAGE_COLUMNS, daily)
    print(f"  ({count:,} ledger rows, {len(daily):,} daily usage rows)")


def scan_timer(connection: sqlite3.Connection | psycopg.Connection[Any]) -> Callable[[], float]:
    """Seconds for one pass over the whole ledger: the baseline."""

    def scan() -> float:
        start = time.perf_counter()
        connection.execute("SELECT count(*) FROM llm_requests WHERE total_ms >= 0").fetchone()
        return time.perf_counter() - start

    return scan


def sqlite_value(value: Any) -> Any:
    """Times and days as SQLAlchemy stores them in SQLite."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_sqlite(path: Path, count: int) -> Callable[[], float]:
    connection = sqlite3.connect(path)

    def write(table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 -- constants
            [tuple(map(sqlite_value, row)) for row in values],
        )

    with connection:
        load(count, write)
    connection.execute("ANALYZE")
    return scan_timer(connection)


def load_postgres(url: str, count: int) -> Callable[[], float]:
    connection = psycopg.connect(url, autocommit=True)

    def write(table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
        with connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)

    load(count, write)
    connection.execute("VACUUM ANALYZE")
    return scan_timer(connection)


QUERIES = {
    "requests, newest page": "/llm/requests?limit=100",
    "requests, one model, page": f"/llm/requests?model={MODELS[1]}&limit=100",
    "requests, one run": "/llm/requests?run_id=4242",
    "usage by model, all 90 days": "/llm/usage?group_by=model",
    "usage by day, all 90 days": "/llm/usage?group_by=day",
    "usage by project, last 7 days": "/llm/usage?group_by=project&since=2026-10-25T00:00:00Z",
    "usage by run, one task": "/llm/usage?group_by=run&task_id=77",
    "usage by task, one project": "/llm/usage?group_by=task&project_id=3",
    "usage by day, one model, ragged month": (
        f"/llm/usage?group_by=day&model={MODELS[0]}"
        "&since=2026-09-10T13:30:00Z&until=2026-10-10T08:15:00Z"
    ),
    "usage by task, all 90 days": "/llm/usage?group_by=task",
    "usage by run, all 90 days": "/llm/usage?group_by=run",
}


def measure(url: str, token: str, scan: Callable[[], float]) -> None:
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        baseline = statistics.median(scan() for _ in range(5))
        print(f"  {'one full scan (baseline)':38} {baseline * 1000:8.1f} ms")
        for label, path in QUERIES.items():
            times = []
            for _ in range(5):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - start)
            print(f"  {label:38} {statistics.median(times) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "ledger.db"
        with live_server(Path(folder) / "sqlite", f"sqlite:///{db}") as hub:
            started = time.perf_counter()
            scan = load_sqlite(db, args.rows)
            seconds = time.perf_counter() - started
            print(f"SQLite, {args.rows:,} rows (loaded in {seconds:.0f} s):")
            measure(hub.url, hub.token, scan)
        url = create_postgres_database()
        try:
            with live_server(Path(folder) / "pg", url) as hub:
                started = time.perf_counter()
                scan = load_postgres(url, args.rows)
                seconds = time.perf_counter() - started
                print(f"PostgreSQL, {args.rows:,} rows (loaded in {seconds:.0f} s):")
                measure(hub.url, hub.token, scan)
        finally:
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
