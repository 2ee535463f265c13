"""Daily usage rows and latency histograms behind `/llm/usage`."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import func, insert, select, text

from wfhub.config import normalize_database_url
from wfhub.db import Database, create_engine
from wfhub.llm import latency
from wfhub.llm.ledger import LedgerWriter
from wfhub.llm.repository import LedgerFilter, split_days, usage
from wfhub.llm.schemas import GroupBy
from wfhub.migrations import alembic_config, upgrade_database
from wfhub.models import LlmRequest, LlmUsageDaily

DAY = datetime(2026, 3, 10, tzinfo=UTC)


def ledger_row(at: datetime, total_ms: float, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "created_at": at,
        "backend": "embedded",
        "model": "m1",
        "endpoint": "/api/chat",
        "status": 200,
        "outcome": "ok",
        "stream": True,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "load_ms": None,
        "prompt_ms": None,
        "eval_ms": None,
        "total_ms": total_ms,
        "ttfb_ms": None,
        "request_bytes": 1,
        "response_bytes": 1,
        "client": "127.0.0.1",
        "project_id": None,
        "task_id": None,
        "run_id": None,
        "error": None,
    }
    row.update(fields)
    row["latency_bucket"] = latency.bucket(row["total_ms"])
    return row


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def test_histogram_percentiles_are_within_one_percent() -> None:
    rng = random.Random(5)  # noqa: S311 -- repeatable sample latencies
    values = [rng.lognormvariate(6, 1.5) for _ in range(20_000)] + [0.0, 0.0004]
    halves = latency.Histogram(), latency.Histogram()
    for n, value in enumerate(values):
        halves[n % 2].add_count(latency.bucket(value))
    histogram = latency.Histogram.from_json(halves[0].to_json())
    histogram.merge(halves[1])
    ps = (0.0, 0.01, 0.5, 0.95, 0.99, 1.0)
    for p, found in zip(ps, histogram.percentiles(*ps), strict=True):
        exact = max(nearest_rank(values, p), latency.SMALLEST_MS)
        assert found == pytest.approx(exact, rel=latency.RELATIVE_ERROR + 1e-3)
    assert latency.Histogram().percentiles(0.5, 0.9) == [None, None]


def test_time_ranges_split_into_whole_days_and_edges() -> None:
    def at(day: int, hour: int = 0) -> datetime:
        return datetime(2026, 3, day, hour, tzinfo=UTC)

    first, end, edges = split_days(LedgerFilter(since=at(10, 6), until=at(13, 18)))
    assert (first, end) == (at(11).date(), at(13).date())
    assert [(e.since, e.until) for e in edges] == [(at(10, 6), at(11)), (at(13), at(13, 18))]
    first, end, edges = split_days(LedgerFilter(since=at(10), until=at(12)))
    assert (first, end, edges) == (at(10).date(), at(12).date(), [])
    inside = LedgerFilter(since=at(10, 6), until=at(11, 5))
    assert split_days(inside)[2] == [inside]
    assert split_days(LedgerFilter(model="m")) == (None, None, [])
    # days are UTC days: 01:00+02:00 on the 11th is 23:00 on the 10th
    east = datetime(2026, 3, 11, 1, tzinfo=timezone(timedelta(hours=2)))
    first, end, edges = split_days(LedgerFilter(since=east))
    assert (first, end) == (at(11).date(), None)
    assert [(e.since, e.until) for e in edges] == [(east, at(11))]


async def test_usage_from_daily_rows_matches_the_ledger(database: Database) -> None:
    rng = random.Random(9)  # noqa: S311 -- repeatable sample latencies
    rows = []
    for i in range(600):
        at = DAY + timedelta(minutes=10 * i)  # a little over four days
        rows.append(
            ledger_row(
                at,
                rng.lognormvariate(5, 1),
                model=("m1", "m2")[i % 2],
                project_id=(None, 1, 2)[i % 3],
                task_id=i % 7 + 1,
                outcome="error" if i % 25 == 0 else "ok",
                completion_tokens=i % 9,
            )
        )
    writer = LedgerWriter(database)
    for row in rows:
        writer.record(row)
    await writer.flush()
    async with database.unit_of_work(write=False) as session:
        if database.dialect == "postgresql":  # days are UTC days whatever the session's zone
            await session.execute(text("SET TIME ZONE 'America/Los_Angeles'"))
        daily = await session.scalar(select(func.count()).select_from(LlmUsageDaily))
        keys = {(r["created_at"].date(), r["model"], r["project_id"], r["task_id"]) for r in rows}
        assert daily == len(keys)

        async def check(
            where: LedgerFilter, group_by: GroupBy, key: Any, chosen: list[Any]
        ) -> None:
            found = {u.key: u for u in await usage(session, where, group_by)}
            assert sum(u.requests for u in found.values()) == len(chosen)
            column = group_by if group_by == "model" else f"{group_by}_id"
            mine = [r for r in chosen if r[column] == key]
            got = found[key]
            assert got.requests == len(mine)
            assert got.errors == sum(r["outcome"] != "ok" for r in mine)
            assert got.completion_tokens == sum(r["completion_tokens"] for r in mine)
            totals = [r["total_ms"] for r in mine]
            for p, value in ((0.5, got.latency_p50_ms), (0.99, got.latency_p99_ms)):
                assert value == pytest.approx(nearest_rank(totals, p), rel=0.0101)

        since, until = DAY + timedelta(hours=7, minutes=5), DAY + timedelta(days=3, hours=2)
        ranged = [r for r in rows if since <= r["created_at"] < until]
        await check(LedgerFilter(), "model", "m2", rows)
        await check(LedgerFilter(since=since, until=until), "model", "m1", ranged)
        later = [r for r in rows if r["created_at"] >= since]
        await check(LedgerFilter(since=since), "project", None, later)
        only_m1 = [r for r in ranged if r["model"] == "m1"]
        await check(LedgerFilter(model="m1", since=since, until=until), "project", 2, only_m1)
        by_day = await usage(session, LedgerFilter(until=until), "day")
        assert [u.key for u in by_day] == ["2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"]
        assert sum(u.requests for u in by_day) == len([r for r in rows if r["created_at"] < until])
        in_project = [r for r in ranged if r["project_id"] == 1]
        await check(LedgerFilter(project_id=1, since=since, until=until), "task", 3, in_project)
        await check(
            LedgerFilter(task_id=3, since=since),
            "run",
            None,
            [r for r in later if r["task_id"] == 3],
        )


async def test_concurrent_writers_lose_no_usage(fresh_database_url: str) -> None:
    """Two hub processes flushing the same day, model and project at once: every request
    is counted (the second writer retries when the first changed the row)."""
    engines = [create_engine(normalize_database_url(fresh_database_url)) for _ in range(2)]
    try:
        await upgrade_database(engines[0])
        writers = [LedgerWriter(Database(engine)) for engine in engines]
        for round_ in range(5):
            for n, writer in enumerate(writers):
                for i in range(40):
                    writer.record(ledger_row(DAY + timedelta(seconds=i), 100 + n * 50 + round_))
            await asyncio.gather(*(w.flush() for w in writers))
        async with Database(engines[0]).unit_of_work(write=False) as session:
            (row,) = (await session.scalars(select(LlmUsageDaily))).all()
            assert row.requests == 400
            assert row.version >= 2
            (got,) = await usage(session, LedgerFilter(), "model")
            assert got.requests == 400
    finally:
        for engine in engines:
            await engine.dispose()


async def test_migration_fills_daily_usage_from_an_existing_ledger(
    fresh_database_url: str,
) -> None:
    engine = create_engine(normalize_database_url(fresh_database_url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0003"))
            # 12,000 rows, 12 s apart: more than one backfill chunk, over two days
            old = [ledger_row(DAY + timedelta(seconds=12 * i), 1.0 + i) for i in range(12_000)]
            for row in old:
                row.pop("latency_bucket")
            await conn.execute(insert(LlmRequest), old)
        await upgrade_database(engine)
        async with Database(engine).unit_of_work(write=False) as session:
            found = await session.execute(select(LlmRequest.total_ms, LlmRequest.latency_bucket))
            assert {ms: b for ms, b in found} == {
                1.0 + i: latency.bucket(1.0 + i) for i in range(12_000)
            }
            days = {u.key: u.requests for u in await usage(session, LedgerFilter(), "day")}
            assert days == {"2026-03-10": 7200, "2026-03-11": 4800}
            (whole,) = await usage(session, LedgerFilter(), "model")
            assert whole.latency_p99_ms == pytest.approx(
                nearest_rank([1.0 + i for i in range(12_000)], 0.99), rel=0.0101
            )
    finally:
        await engine.dispose()


async def test_control_characters_in_a_model_filter_are_refused(client: httpx.AsyncClient) -> None:
    for path in ("/llm/usage", "/llm/requests"):
        response = await client.get(path, params={"model": "qwen\x00"})
        assert response.status_code == 422, (path, response.text)  # was a 500 on PostgreSQL
        assert response.json()["error"] == "validation_error"
