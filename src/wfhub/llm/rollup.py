"""Keeps `llm_usage_daily` in step with the ledger rows being inserted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date
from typing import Any, Protocol

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.llm.latency import Histogram, Tally
from wfhub.models import LlmUsageDaily
from wfhub.models.llm_usage import NONE

Key = tuple[date, str, int, int, int]
"""UTC day, model, project, task, run (`NONE` for a missing id)."""


class StaleUsage(Exception):
    """Another writer changed a usage row between our read and our write; retry."""


def tally_rows(rows: Iterable[dict[str, Any]]) -> dict[Key, Tally]:
    """Ledger rows (as inserted) summed per UTC day, model, project, task and run."""
    found: dict[Key, Tally] = {}
    for row in rows:
        key = (
            row["created_at"].astimezone(UTC).date(),
            row["model"],
            row["project_id"] or NONE,
            row["task_id"] or NONE,
            row["run_id"] or NONE,
        )
        tally = found.setdefault(key, Tally())
        tally.requests += 1
        tally.errors += row["outcome"] != "ok"
        tally.prompt_tokens += row["prompt_tokens"] or 0
        tally.completion_tokens += row["completion_tokens"] or 0
        tally.histogram.add_count(row["latency_bucket"])
    return found


class UsageCounts(Protocol):
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    latency_histogram: str


def as_tally(row: UsageCounts) -> Tally:
    return Tally(
        row.requests,
        row.errors,
        row.prompt_tokens,
        row.completion_tokens,
        Histogram.from_json(row.latency_histogram),
    )


async def apply(session: AsyncSession, tallies: dict[Key, Tally]) -> None:
    """Add `tallies` to the usage rows; raises `StaleUsage` (or an IntegrityError when two
    writers create the same row) if another writer got there first."""
    if not tallies:
        return
    key_columns = tuple_(
        LlmUsageDaily.day,
        LlmUsageDaily.model,
        LlmUsageDaily.project_id,
        LlmUsageDaily.task_id,
        LlmUsageDaily.run_id,
    )
    existing = {
        (row.day, row.model, row.project_id, row.task_id, row.run_id): row
        for row in await session.scalars(select(LlmUsageDaily).where(key_columns.in_(tallies)))
    }
    for key, tally in tallies.items():
        row = existing.get(key)
        if row is None:
            await session.execute(
                insert(LlmUsageDaily).values(
                    day=key[0],
                    model=key[1],
                    project_id=key[2],
                    task_id=key[3],
                    run_id=key[4],
                    requests=tally.requests,
                    errors=tally.errors,
                    prompt_tokens=tally.prompt_tokens,
                    completion_tokens=tally.completion_tokens,
                    latency_histogram=tally.histogram.to_json(),
                    version=1,
                )
            )
            continue
        total = as_tally(row)
        total.add(tally)
        result = await session.execute(
            update(LlmUsageDaily)
            .where(LlmUsageDaily.id == row.id, LlmUsageDaily.version == row.version)
            .values(
                requests=total.requests,
                errors=total.errors,
                prompt_tokens=total.prompt_tokens,
                completion_tokens=total.completion_tokens,
                latency_histogram=total.histogram.to_json(),
                version=row.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleUsage(f"usage row {key} changed under us")
