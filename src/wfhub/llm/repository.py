"""Ledger queries: filtered pages, and usage aggregates.

Usage sums come from SQL (`llm_usage_daily` rows, or `GROUP BY` over the ledger); latency
percentiles come from the summed histograms (`latency.py`, within 1 % of the exact value),
the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wfhub.llm import rollup
from wfhub.llm.latency import Tally
from wfhub.llm.schemas import GroupBy, UsageRow
from wfhub.models import LlmRequest, LlmUsageDaily


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
        # UTC days, like the daily usage rows, whatever the session's time zone
        return cast(func.timezone("UTC", LlmRequest.created_at), Date)
    column = {"model": "model", "project": "project_id", "task": "task_id", "run": "run_id"}
    return getattr(LlmRequest, column[group_by])  # type: ignore[no-any-return]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def split_days(where: LedgerFilter) -> tuple[date | None, date | None, list[LedgerFilter]]:
    """The UTC days wholly inside the filter's time range (first, end: days `first <= d <
    end`, None = unbounded) and the filters for the partial days at either edge."""
    since, until = where.since, where.until
    first = None if since is None else since.astimezone(UTC).date()
    if since is not None and first is not None and since > _midnight(first):
        first += timedelta(days=1)
    end = None if until is None else until.astimezone(UTC).date()
    if first is not None and end is not None and first >= end:  # all inside one day
        return first, first, [where]
    edges = []
    if since is not None and first is not None and since < _midnight(first):
        edges.append(replace(where, until=_midnight(first)))
    if until is not None and end is not None and until > _midnight(end):
        edges.append(replace(where, since=_midnight(end)))
    return first, end, edges


async def _from_ledger(
    session: AsyncSession, where: LedgerFilter, group_by: GroupBy
) -> dict[Any, Tally]:
    key = _group_key(group_by, session.get_bind().dialect.name).label("key")
    query = (
        select(
            key,
            LlmRequest.latency_bucket,
            func.count(),
            func.sum(cast(LlmRequest.outcome != "ok", Integer)),
            func.coalesce(func.sum(LlmRequest.prompt_tokens), 0),
            func.coalesce(func.sum(LlmRequest.completion_tokens), 0),
        )
        .where(*where.conditions())
        .group_by(key, LlmRequest.latency_bucket)
    )
    groups: dict[Any, Tally] = {}
    for value, bucket, count, errors, prompt, completion in await session.execute(query):
        tally = groups.setdefault(str(value) if group_by == "day" else value, Tally())
        tally.requests += count
        tally.errors += errors or 0
        tally.prompt_tokens += prompt
        tally.completion_tokens += completion
        tally.histogram.add_count(bucket, count)
    return groups


def _daily_query(
    where: LedgerFilter, first: date | None, end: date | None
) -> Select[*tuple[Any, ...]]:
    query = select(
        LlmUsageDaily.day,
        LlmUsageDaily.model,
        LlmUsageDaily.project_id,
        LlmUsageDaily.task_id,
        LlmUsageDaily.run_id,
        LlmUsageDaily.requests,
        LlmUsageDaily.errors,
        LlmUsageDaily.prompt_tokens,
        LlmUsageDaily.completion_tokens,
        LlmUsageDaily.latency_histogram,
    )
    if first is not None:
        query = query.where(LlmUsageDaily.day >= first)
    if end is not None:
        query = query.where(LlmUsageDaily.day < end)
    if where.model is not None:
        query = query.where(LlmUsageDaily.model == where.model)
    for name in ("project_id", "task_id", "run_id"):
        if getattr(where, name) is not None:
            query = query.where(getattr(LlmUsageDaily, name) == getattr(where, name))
    return query


async def _from_daily(
    session: AsyncSession, where: LedgerFilter, group_by: GroupBy
) -> dict[Any, Tally]:
    first, end, edges = split_days(where)
    query = _daily_query(where, first, end)
    groups: dict[Any, Tally] = {}
    for row in await session.execute(query):
        if group_by == "day":
            value: Any = row.day.isoformat()
        elif group_by == "model":
            value = row.model
        else:
            value = getattr(row, f"{group_by}_id") or None  # NONE (0) -> null
        if value in groups:
            groups[value].add(rollup.as_tally(row))
        else:
            groups[value] = rollup.as_tally(row)
    for edge in edges:
        for value, tally in (await _from_ledger(session, edge, group_by)).items():
            groups.setdefault(value, Tally()).add(tally)
    return groups


async def usage(session: AsyncSession, where: LedgerFilter, group_by: GroupBy) -> list[UsageRow]:
    """From the daily usage rows for the whole UTC days in the range, plus the ledger rows of
    the partial days at its edges."""
    groups = await _from_daily(session, where, group_by)
    ordered = sorted(groups.items(), key=lambda item: (-item[1].requests, str(item[0])))
    rows = []
    for value, tally in ordered:
        p50, p95, p99 = tally.histogram.percentiles(0.50, 0.95, 0.99)
        rows.append(
            UsageRow(
                key=value,
                requests=tally.requests,
                errors=tally.errors,
                prompt_tokens=tally.prompt_tokens,
                completion_tokens=tally.completion_tokens,
                latency_p50_ms=p50,
                latency_p95_ms=p95,
                latency_p99_ms=p99,
            )
        )
    return rows
