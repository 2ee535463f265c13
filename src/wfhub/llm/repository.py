"""Ledger queries: filtered pages and usage aggregates, computed in SQL.

Percentiles use the nearest-rank method with window functions, which both SQLite and
PostgreSQL run, so the two databases report the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wfhub.llm.schemas import GroupBy, UsageRow
from wfhub.models import LlmRequest

PERCENTILES = (0.50, 0.95, 0.99)


@dataclass(frozen=True)
class LedgerFilter:
    model: str | None = None
    project_id: int | None = None
    task_id: int | None = None
    run_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.model is not None:
            found.append(LlmRequest.model == self.model)
        for name in ("project_id", "task_id", "run_id"):
            value = getattr(self, name)
            if value is not None:
                found.append(getattr(LlmRequest, name) == value)
        if self.since is not None:
            found.append(LlmRequest.created_at >= self.since)
        if self.until is not None:
            found.append(LlmRequest.created_at < self.until)
        return found


async def page(
    session: AsyncSession, where: LedgerFilter, limit: int, before_id: int | None
) -> tuple[Sequence[LlmRequest], int | None]:
    """Newest first; keyset paging on id so deep pages cost the same as the first."""
    query = select(LlmRequest).where(*where.conditions())
    if before_id is not None:
        query = query.where(LlmRequest.id < before_id)
    rows = (await session.scalars(query.order_by(LlmRequest.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def _group_key(group_by: GroupBy, dialect: str) -> ColumnElement[Any]:
    if group_by == "day":
        if dialect == "sqlite":
            return func.date(LlmRequest.created_at)
        return cast(LlmRequest.created_at, Date)
    column = {"model": "model", "project": "project_id", "task": "task_id", "run": "run_id"}
    return getattr(LlmRequest, column[group_by])  # type: ignore[no-any-return]


async def usage(session: AsyncSession, where: LedgerFilter, group_by: GroupBy) -> list[UsageRow]:
    dialect = session.get_bind().dialect.name
    key = _group_key(group_by, dialect).label("key")
    ranked = (
        select(
            key,
            LlmRequest.total_ms,
            LlmRequest.prompt_tokens,
            LlmRequest.completion_tokens,
            LlmRequest.outcome,
            func.row_number().over(partition_by=key, order_by=LlmRequest.total_ms).label("rn"),
            func.count().over(partition_by=key).label("n"),
        )
        .where(*where.conditions())
        .subquery()
    )

    def percentile(p: float) -> ColumnElement[Any]:
        return func.min(case((ranked.c.rn >= ranked.c.n * p, ranked.c.total_ms)))

    query = (
        select(
            ranked.c.key,
            func.count(),
            func.sum(cast(ranked.c.outcome != "ok", Integer)),
            func.coalesce(func.sum(ranked.c.prompt_tokens), 0),
            func.coalesce(func.sum(ranked.c.completion_tokens), 0),
            *(percentile(p) for p in PERCENTILES),
        )
        .group_by(ranked.c.key)
        .order_by(func.count().desc())
    )
    rows = []
    for key_value, count, errors, prompt, completion, p50, p95, p99 in await session.execute(query):
        rows.append(
            UsageRow(
                key=str(key_value) if group_by == "day" and key_value is not None else key_value,
                requests=count,
                errors=errors or 0,
                prompt_tokens=prompt,
                completion_tokens=completion,
                latency_p50_ms=p50,
                latency_p95_ms=p95,
                latency_p99_ms=p99,
            )
        )
    return rows
